// The fleet's job rate against DynamoDB's capacity, kept in Redis so every worker of a queue shares
// one: additive increase, multiplicative decrease (AIMD), decided once per second for the whole
// fleet by one Lua script, and enforced by BullMQ's own global rate limiter (the queue meta's
// max/duration), which every worker's fetch already obeys. Ten workers then behave like one
// well-behaved client instead of ten that each back off on their own.
//
// Each worker reports what its jobs did in the last second (jobs started, DynamoDB requests,
// throttled requests, capacity units). The script adds that to the current second's tallies; the
// first report of a new second decides on the second just finished:
//   - any throttled request: the rate (or, when it was not holding jobs back, the jobs started)
//     times (1 - half the share of requests throttled), cut by at most `factor` and never below the
//     floor; at most once per two seconds (throttles from jobs started before the cut are still
//     arriving) unless a fifth or more of the requests were throttled. A cut in proportion to the throttled share (as DCTCP does with congestion marks;
//     half, because the SDK's retries of a throttled request are counted as requests too)
//     leaves a small overshoot a small cut, where a fixed halving would keep the table well below
//     its capacity most of the time. The rate before the cut is kept as the `peak`;
//   - else, if the limit held jobs back (BullMQ's window counter reached it): back up quickly (25%
//     a second) to just under the peak, then probe above it slowly, `increase` x rate a second (at
//     least 1 job/s), as CUBIC does around its last loss; reaching the ceiling lifts the limit. The
//     steps are shares of the rate so one default suits a table of 10 jobs/s and one of 10,000;

//   - else nothing (an unused rate is not raised: it would only allow a burst later).
// With no reports for a minute the rate is forgotten: an idle fleet probes afresh.
import type { QueueKeys } from '../lifecycle/keys.js';
import type { RedisConnection } from '../runtime/redis.js';

export interface FlowSettings {
  floor: number;
  ceiling: number;
  /** Share of the rate added per second while the limit holds jobs back. */
  increase: number;
  /** The largest cut in one go: the rate is multiplied by at least this. */
  factor: number;
  /** The rate before the first throttle; undefined: no limit until then. */
  initial?: number;
}

/** What one worker's jobs did since its last report. */
export interface FlowReport {
  started: number;
  requests: number;
  throttled: number;
  capacityUnits: number;
}

/** The fleet's state as the last full second left it. */
export interface FleetFlow {
  /** Jobs per second the fleet may start; null: no limit. */
  rate: number | null;
  /** The last full second's fleet-wide tallies. */
  lastSecond: FlowReport;
  /** When DynamoDB last throttled a job of this queue (ms since epoch), if ever. */
  lastThrottleAt: number | null;
}

export interface FleetFlowView extends FleetFlow {
  /** The limit is holding jobs back right now (BullMQ's window is full). */
  heldBack: boolean;
}

const TICK = `
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
`;

const LIFT = `
if redis.call('HEXISTS', KEYS[1], 'rate') == 1 then redis.call('HDEL', KEYS[2], 'max', 'duration') end
redis.call('DEL', KEYS[1])
return 1
`;

type WithFlowScripts = RedisConnection & {
  djqFlowTick(flow: string, meta: string, limiter: string, ...args: (string | number)[]): Promise<(number | string)[]>;
  djqFlowLift(flow: string, meta: string): Promise<number>;
};

function withScripts(redis: RedisConnection): WithFlowScripts {
  const scripted = redis as WithFlowScripts;
  if (typeof scripted.djqFlowTick !== 'function') {
    redis.defineCommand('djqFlowTick', { numberOfKeys: 3, lua: TICK });
    redis.defineCommand('djqFlowLift', { numberOfKeys: 2, lua: LIFT });
  }
  return scripted;
}

export class FleetRate {
  private readonly redis: WithFlowScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: QueueKeys,
    private readonly settings: FlowSettings,
    /** Seconds since epoch instead of Redis's TIME: tests drive the seconds by hand. */
    private readonly clock?: () => number,
  ) {
    this.redis = withScripts(redis);
  }

  /** Adds one worker's report and lets the fleet decide if a second has passed; returns the fleet's state. */
  async report(report: FlowReport): Promise<Omit<FleetFlow, 'lastThrottleAt'>> {
    const { floor, ceiling, increase, factor, initial } = this.settings;
    const [rate, started, requests, throttled, units] = (
      await this.redis.djqFlowTick(
        this.keys.flow,
        this.keys.bullMeta,
        this.keys.bullLimiter,
        report.started,
        report.requests,
        report.throttled,
        report.capacityUnits,
        floor,
        ceiling,
        increase,
        factor,
        initial ?? 0,
        ...(this.clock ? [this.clock()] : []),
      )
    ).map(Number);
    return {
      rate: rate === undefined || rate < 0 ? null : rate,
      lastSecond: {
        started: started ?? 0,
        requests: requests ?? 0,
        throttled: throttled ?? 0,
        capacityUnits: Math.round((units ?? 0) * 10) / 10,
      },
    };
  }

  /** Removes the limit flow control set (when it is turned off): a limit someone else set stays. */
  async lift(): Promise<void> {
    await this.redis.djqFlowLift(this.keys.flow, this.keys.bullMeta);
  }
}

/** The fleet's flow state as operators see it (djq stats, the board, npm start's summary). */
export async function readFleetFlow(redis: RedisConnection, keys: QueueKeys): Promise<FleetFlowView> {
  const [fields, used, windowMax] = await Promise.all([
    redis.hmget(keys.flow, 'rate', 'lastStarted', 'lastRequests', 'lastThrottled', 'lastUnits', 'throttledAt'),
    redis.get(keys.bullLimiter),
    // The jobs one window allows, as the script set it and BullMQ enforces it.
    redis.hget(keys.bullMeta, 'max'),
  ]);
  const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  const rate = num(fields[0]);
  return {
    rate,
    lastSecond: {
      started: num(fields[1]) ?? 0,
      requests: num(fields[2]) ?? 0,
      throttled: num(fields[3]) ?? 0,
      capacityUnits: Math.round((num(fields[4]) ?? 0) * 10) / 10,
    },
    lastThrottleAt: num(fields[5]),
    heldBack: rate !== null && windowMax !== null && Number(used ?? 0) >= Number(windowMax),
  };
}

/** One line for a person: "no limit", or the rate and whether it holds jobs back now. */
export function describeFleetFlow(flow: FleetFlowView): string {
  if (flow.rate === null) return 'no limit (DynamoDB has not throttled)';
  const state = flow.heldBack ? 'holding jobs back' : 'not reached';
  const last = flow.lastSecond;
  return `${flow.rate} jobs/s (${state}); last second: ${last.started} jobs, ${last.capacityUnits} capacity units, ${last.throttled} of ${last.requests} requests throttled`;
}
