// Whether a shard's Redis is still the server its data was last reconciled on. Redis acknowledges a
// write before its replicas have it and before its disk has it (AOF `everysec`), so a failover to a
// lagging replica, or a restart, can drop jobs DynamoDB has accepted, while the epoch survives (it
// tells only a total loss). A new run_id is the sign: the shard's watcher then reconciles the shard
// with DynamoDB (worker/redis-change.ts) and records the new server here.
import type { RedisConnection } from '../runtime/redis.js';
import { luaScript, withLuaScripts } from '../runtime/redis-scripts.js';
import type { QueueKeys } from './keys.js';

const SERVER = luaScript('djqRedisServer', 2, new URL('./redis-server.lua', import.meta.url));
type WithServer = RedisConnection & {
  djqRedisServer(key: string, epoch: string, record: string): Promise<[string, string | null]>;
};

export interface RedisServerState {
  /** The server holding the shard's data now: its run_id and replication id (`run_id:replid`). */
  runId: string;
  /** The run_id its data was last reconciled on; null: never (a new deployment, or a Redis that lost everything). */
  reconciled: string | null;
}

/** Reads both; with `record`, also records `record` as reconciled if it is still the server's run_id. */
export async function redisServerState(
  redis: RedisConnection,
  keys: QueueKeys,
  record = '',
): Promise<RedisServerState> {
  const [runId, reconciled] = await withLuaScripts<WithServer>(redis, SERVER).djqRedisServer(
    keys.serverReconciled,
    keys.epoch,
    record,
  );
  return { runId, reconciled: reconciled ?? null };
}
