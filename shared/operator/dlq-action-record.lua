-- Records what a bulk DLQ action's run did to one job, for the run holding the action's lease.
-- KEYS[1]: the action's progress hash; KEYS[2]: the action's hash; KEYS[3]: the action's lease.
-- ARGV[1]: job id; ARGV[2]: its progress; ARGV[3]: now (ISO); ARGV[4]: TTL (seconds); ARGV[5]: the
--   run's lease token.
-- Invariant: a settled result is never overwritten (only a `busy:` one is), so a run paused past its
-- lease cannot undo what the resume that took over did; the answer { cancel requested, lease still
-- held } (1/0 each) is read in the same step as the write, so such a run stops before its next job.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current or string.sub(current, 1, 5) == 'busy:' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('HSET', KEYS[2], 'updatedAt', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
local cancel = redis.call('HGET', KEYS[2], 'cancelRequested') == '1' and 1 or 0
local held = redis.call('GET', KEYS[3]) == ARGV[5] and 1 or 0
return { cancel, held }
