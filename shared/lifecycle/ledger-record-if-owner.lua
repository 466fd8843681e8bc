-- Records a job's `completed` outcome in the ledger only while the delivery still holds BullMQ's
-- lock of the job.
-- KEYS[1]: BullMQ's lock of the active job; KEYS[2]: the ledger's outcomes stream.
-- ARGV[1]: the delivery's token; ARGV[2]: the stream's approximate cap; ARGV[3]: the job id.
-- Invariant: a stale delivery (its lock expired and went to another) records nothing.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'id', ARGV[3], 'o', 'completed')
return 1
