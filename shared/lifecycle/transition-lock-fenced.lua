-- The fence of a transition, and optionally one write, in one step.
-- KEYS[1]: the job id's transition lock; KEYS[2] (with a write): the key the write changes.
-- ARGV[1]: the holder's token; ARGV[2]: the lock's TTL (ms); ARGV[3] (optional): a Redis command,
--   ARGV[4..]: its arguments after the key.
-- Invariant: the write happens only while the caller holds the lock, checked in the same step, so
-- a holder paused past the TTL (GC, SIGSTOP, a blocked event loop) writes nothing: there is no gap
-- between the check and the write. The lock is renewed for another TTL.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('DJQ_LOCK_LOST') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if #ARGV < 3 then return 1 end
return redis.call(ARGV[3], KEYS[2], unpack(ARGV, 4))
