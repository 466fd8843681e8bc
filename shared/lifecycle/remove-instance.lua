-- Removes one instance of a job from a BullMQ queue (the operations queue's failed or held instance,
-- a DLQ entry), under the job id's transition lock.
-- KEYS[1]: the job id's transition lock; KEYS[2]: the job's hash; KEYS[3]: the job's logs;
--   KEYS[4]: the queue's active list; KEYS[5..10]: the queue's wait, paused, delayed, prioritized,
--   failed and completed keys (lists or sorted sets).
-- ARGV[1]: the holder's token; ARGV[2]: the lock's TTL (ms); ARGV[3]: the job id; ARGV[4]: the
--   instance's timestamp.
-- Invariant: only the very instance the holder read goes, and only while the holder holds the lock,
-- checked in the same step: a holder paused past its lock can never remove a newer instance of the
-- same id (a redrive's, waiting to run; the DLQ entry of a later generation). An instance a worker
-- is running (in the active list) is never removed. Returns 1 if removed, 0 if that instance is not
-- there (or is running).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('DJQ_LOCK_LOST') end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if redis.call('HGET', KEYS[2], 'timestamp') ~= ARGV[4] then return 0 end
if redis.call('LPOS', KEYS[4], ARGV[3]) then return 0 end
local removed = 0
for i = 5, 10 do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  if kind == 'list' then
    removed = removed + redis.call('LREM', KEYS[i], 0, ARGV[3])
  elseif kind == 'zset' then
    removed = removed + redis.call('ZREM', KEYS[i], ARGV[3])
  end
end
if removed == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
