-- Appends a failed attempt's line to a job's log, only while the delivery writing it holds BullMQ's
-- lock of the job (BullMQ's own addLog takes no lock, so a stale delivery's line could land in a
-- later instance's log, and from there in a later DLQ entry's attempts).
-- KEYS[1]: the job's BullMQ lock; KEYS[2]: the job's logs.
-- ARGV[1]: the delivery's lock token; ARGV[2]: the line; ARGV[3]: how many lines to keep ('' = all).
-- Invariant: the check and the write are one step. Returns 1 if written, 0 if the delivery no
-- longer owns the job (nothing written).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
if ARGV[3] ~= '' then redis.call('LTRIM', KEYS[2], -tonumber(ARGV[3]), -1) end
return 1
