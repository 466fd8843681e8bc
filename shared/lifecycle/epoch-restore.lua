-- Gives a shard's Redis the table's epoch back at the end of a recovery, if Redis still holds the
-- mark that recovery wrote when it began.
-- KEYS[1]: the recovery's mark; KEYS[2]: the shard's epoch. ARGV[1]: the table's epoch.
-- Invariant: a Redis that lost its data while the recovery ran (the jobs re-added before the loss
-- are gone with the mark) never gets the epoch back: it still says it lost its data, and a next
-- recovery re-adds them. Returns 1 if the epoch was written, 0 if the mark was gone.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
