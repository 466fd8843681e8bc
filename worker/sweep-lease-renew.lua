-- Renews the sweep lease of one queue shard for its holder.
-- KEYS[1]: the lease; ARGV[1]: the holder's token; ARGV[2]: the lease's lifetime (ms).
-- Invariant: only the worker whose token the key holds extends it, so a holder paused past the
-- lifetime, whose lease another worker took meanwhile, learns it lost it (0) instead of taking it back.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
