-- Which Redis server holds a shard's data now, and which one its data was last reconciled on.
-- KEYS[1]: the shard's `epoch:server` key (the run_id of the server last reconciled).
-- KEYS[2]: the shard's epoch key: a server that lost its data (the epoch with it) since the recovery
--   is not recorded as reconciled, or the next look would see nothing to do.
-- ARGV[1]: optional; a server (run_id:replid) to record as reconciled, only if it is still the server's own.
-- Invariant: the record names a server only while that very server runs it: a run_id changes with
-- every restart and on every failover (a promoted replica is another process), so a record that
-- differs from the server's run_id says acknowledged writes may have been lost since. Run on the
-- shard's own node (its key routes it there in a cluster). Returns { run_id, recorded or false }.
-- The server is its run_id and its replication id together: a master that became a replica of the
-- one promoted over it (taking that one's data, without what it had dropped), then was promoted
-- back, keeps its run_id, but a promotion always gives it a new replication id.
local runId = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
  .. ':' .. string.match(redis.call('INFO', 'replication'), 'master_replid:(%w+)')
local recorded = redis.call('GET', KEYS[1])
if ARGV[1] and ARGV[1] ~= '' and ARGV[1] == runId and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], runId)
end
return { runId, recorded }
