-- Ends a bulk DLQ action's run: drops its lease and writes the action's final status, in one step.
-- KEYS[1]: the action's lease; KEYS[2]: the action's hash.
-- ARGV[1]: the run's lease token; ARGV[2]: final status; ARGV[3]: now (ISO); ARGV[4]: error ('' for
--   none); ARGV[5]: TTL (seconds).
-- Invariant: only the run that still holds the lease writes (a lease that expired may be another
-- run's), and only on an action that exists; whoever then sees the final status may resume at once.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'status', ARGV[2], 'updatedAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], 'error', ARGV[4]) end
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 1
