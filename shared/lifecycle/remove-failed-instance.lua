-- Removes one failed instance of a job from BullMQ's failed set, under the job id's transition lock.
-- KEYS[1]: the job id's transition lock; KEYS[2]: the queue's failed set; KEYS[3]: the job's hash;
--   KEYS[4]: the job's logs.
-- ARGV[1]: the holder's token; ARGV[2]: the lock's TTL (ms); ARGV[3]: the job id; ARGV[4]: the
--   instance's timestamp.
-- Invariant: only the very instance the holder read goes, and only while the holder holds the lock,
-- checked in the same step: a holder paused past its lock can never remove a newer instance of the
-- same id (a redrive's, waiting to run). Returns 1 if removed, 0 if that instance is not there.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('DJQ_LOCK_LOST') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[3], 'timestamp') ~= ARGV[4] then return 0 end
if redis.call('ZREM', KEYS[2], ARGV[3]) == 0 then return 0 end
redis.call('DEL', KEYS[3], KEYS[4])
return 1
