-- Releases a job id's transition lock.
-- KEYS[1]: the lock; ARGV[1]: the holder's token.
-- Invariant: deletes the key only while it still holds this token, so a holder whose lock expired
-- and was retaken never frees another holder's lock.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
