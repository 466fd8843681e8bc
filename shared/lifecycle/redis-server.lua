-- Which Redis server holds a shard's data now, and which one its data was last reconciled on.
-- KEYS[1]: the shard's `epoch:server` key (the run_id of the server last reconciled).
-- ARGV[1]: optional; a run_id to record as reconciled, only if it is still the server's own.
-- Invariant: the record names a server only while that very server runs it: a run_id changes with
-- every restart and on every failover (a promoted replica is another process), so a record that
-- differs from the server's run_id says acknowledged writes may have been lost since. Run on the
-- shard's own node (its key routes it there in a cluster). Returns { run_id, recorded or false }.
local info = redis.call('INFO', 'server')
local runId = string.match(info, 'run_id:(%w+)')
local recorded = redis.call('GET', KEYS[1])
if ARGV[1] and ARGV[1] ~= '' and ARGV[1] == runId then
  redis.call('SET', KEYS[1], runId)
end
return { runId, recorded }
