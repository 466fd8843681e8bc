-- Lifts the fleet's rate limit (flow control turned off, or an idle fleet forgotten).
-- KEYS[1]: the flow hash; KEYS[2]: BullMQ's queue meta.
-- Invariant: only a limit flow control set is lifted (a max/duration set by someone else stays).
if redis.call('HEXISTS', KEYS[1], 'rate') == 1 then redis.call('HDEL', KEYS[2], 'max', 'duration') end
redis.call('DEL', KEYS[1])
return 1
