-- Releases the sweep lease of one queue shard (a worker closing hands it over at once).
-- KEYS[1]: the lease; ARGV[1]: the holder's token.
-- Invariant: deletes the key only while it holds this token: a holder whose lease expired and was
-- taken never frees the new holder's.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
