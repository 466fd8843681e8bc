-- The fleet's rate: adds one worker's report to the current second and, on the first report of a
-- new second, decides the fleet's job rate for the next (see fleet-rate.ts for the rule).
-- KEYS[1]: the flow hash; KEYS[2]: BullMQ's queue meta (its max/duration are the global rate
--   limit); KEYS[3]: BullMQ's limiter window counter.
-- ARGV: started, requests, throttled, capacity units (this worker's report), floor, ceiling,
--   increase, factor, initial rate (0: none), and optionally the second (tests; else Redis's TIME).
-- Invariant: one decision per second for the whole fleet, whatever number of workers report.
-- Returns {rate or -1, last second's started, requests, throttled, units}.
local flow, meta, limiter = KEYS[1], KEYS[2], KEYS[3]
local floor, ceiling, increase, factor, initial = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
-- Redis's clock, so workers on machines whose clocks differ agree on the second (ARGV[10]: tests).
local sec = tonumber(ARGV[10])
if not sec then sec = tonumber(redis.call('TIME')[1]) end
local f = redis.call('HMGET', flow, 'sec', 'started', 'requests', 'throttled', 'units', 'rate', 'bound', 'cutSec', 'peak')
local cur, rate, cutSec, peak = tonumber(f[1]), tonumber(f[6]), tonumber(f[8]) or 0, tonumber(f[9]) or 0
-- BullMQ's window: a quarter of a second once the rate allows it, so the jobs of a second start
-- spread over it rather than all at its first instant (a burst the table would throttle).
local function windowMax(r) if r >= 8 then return math.floor(r / 4 + 0.5) else return r end end
local function apply(r)
  if r then
    local max = windowMax(r)
    redis.call('HSET', meta, 'max', max, 'duration', max == r and 1000 or 250)
    redis.call('HSET', flow, 'rate', r)
  else redis.call('HDEL', meta, 'max', 'duration') redis.call('HDEL', flow, 'rate') end
end
local function limiterFull(r) return r and tonumber(redis.call('GET', limiter) or '0') >= windowMax(r) end
if cur == nil then
  cur = sec
  if initial > 0 then rate = initial apply(rate) end
  redis.call('HSET', flow, 'sec', sec)
end
local bound = tonumber(f[7]) or 0
if limiterFull(rate) then bound = 1 end
-- A second before the current one is a new second too: Redis's clock stepped back (NTP, a failover
-- to a host whose clock is behind), and waiting for it to catch up would freeze the rate meanwhile.
if sec ~= cur then
  local started, requests, throttled, units = tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[4]) or 0, tonumber(f[5]) or 0
  if sec - cur > 60 then
    -- Idle for a minute: forget the rate and probe afresh. With no rate of ours there is nothing to
    -- forget: a limit in the queue's meta is someone else's (as lift() leaves it).
    if rate or initial > 0 then
      rate = initial > 0 and initial or nil
      apply(rate)
    end
    started, requests, throttled, units = 0, 0, 0, 0
  elseif throttled > 0 then
    local share = requests > 0 and math.min(1, throttled / requests) or 1
    -- After a cut, a second of modest throttling is mostly the echo of requests sent before it
    -- (the SDK retries a throttle a second later): wait a second more. A storm is cut at once.
    -- (A cut in the clock's future is from before a step back: how long ago is unknown.)
    if sec - cutSec >= 2 or sec < cutSec or share >= 0.2 then
      local base
      if rate and bound == 1 then base = rate
      else
        base = math.max(started, floor)
        if rate then base = math.min(rate, base) end
      end
      -- The peak is the limit DynamoDB throttled under (jobs started is noisier: the workers'
      -- reports do not fall evenly into seconds).
      redis.call('HSET', flow, 'cutSec', sec, 'peak', rate or base)
      rate = math.max(floor, math.floor(base * math.max(factor, 1 - share / 2)))
      apply(rate)
    end
    redis.call('HSET', flow, 'throttledAt', cur * 1000)
  elseif rate and bound == 1 then
    local below = math.floor(peak * 0.95)
    if rate < below then rate = math.min(below, rate + math.max(1, math.floor(rate * 0.25)))
    else rate = rate + math.max(1, math.floor(rate * increase)) end
    if rate >= ceiling then rate = nil end
    apply(rate)
  end
  redis.call('HSET', flow, 'sec', sec, 'started', 0, 'requests', 0, 'throttled', 0, 'units', 0, 'bound', 0,
    'lastStarted', started, 'lastRequests', requests, 'lastThrottled', throttled, 'lastUnits', units)
  bound = 0
  if limiterFull(rate) then bound = 1 end
end
redis.call('HINCRBY', flow, 'started', ARGV[1])
redis.call('HINCRBY', flow, 'requests', ARGV[2])
redis.call('HINCRBY', flow, 'throttled', ARGV[3])
redis.call('HINCRBYFLOAT', flow, 'units', ARGV[4])
redis.call('HSET', flow, 'bound', bound)
local last = redis.call('HMGET', flow, 'lastStarted', 'lastRequests', 'lastThrottled', 'lastUnits')
return {rate or -1, last[1] or 0, last[2] or 0, last[3] or 0, last[4] or '0'}
