-- Renews a lease (a key holding its holder's token, with an expiry) for its holder: the sweep's
-- lease of one queue shard (worker/sweep-lease.ts), a bulk DLQ action's (shared/operator/dlq-actions.ts).
-- KEYS[1]: the lease; ARGV[1]: the holder's token; ARGV[2]: the lease's lifetime (ms).
-- Invariant: only the holder whose token the key holds extends it, so a holder paused past the
-- lifetime, whose lease another took meanwhile, learns it lost it (0) instead of taking it back.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
