// The epoch ties a shard's Redis data to the DynamoDB table that decides its jobs: a random id
// written to both when the shard first starts. A Redis that lost its data (FLUSHALL, a new empty
// server, a restart without persistence) has no epoch while the table has one; a table that was
// replaced or emptied while Redis kept its jobs has none while Redis has one. Either way the
// processes say so (logs, /readyz, djq stats) instead of running two runs' data as one; `djq
// recover` rebuilds Redis from the table's job records and then writes the epoch back.
import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../runtime/redis.js';
import { luaScript, withLuaScripts } from '../runtime/redis-scripts.js';
import type { JobRecordStore } from '../store/types.js';
import type { QueueKeys } from './keys.js';

export type EpochState =
  /** Redis and the table belong together. */
  | { state: 'ok'; epoch: string }
  /** The table has an epoch and Redis has none: Redis lost its data. Run `djq recover`. */
  | { state: 'redis-lost'; epoch: string }
  /** Redis has an epoch the table does not know: they belong to different runs. */
  | { state: 'mismatch'; redis: string; table: string | undefined };

/** The name of a shard's epoch in the table: its Redis prefix and queue. */
export const epochName = (keys: QueueKeys) => `${keys.prefix}:${keys.operations}`;

/**
 * Reads both epochs; when neither exists (a new deployment), creates one in the table first, then
 * in Redis. Never overwrites an epoch: repairing is `djq recover`'s job, once Redis is rebuilt.
 */
export async function checkEpoch(
  redis: RedisConnection,
  keys: QueueKeys,
  records: JobRecordStore,
): Promise<EpochState> {
  const [inRedis, inTable] = await Promise.all([redis.get(keys.epoch), records.readEpoch(epochName(keys))]);
  if (inRedis !== null) {
    return inRedis === inTable
      ? { state: 'ok', epoch: inRedis }
      : { state: 'mismatch', redis: inRedis, table: inTable };
  }
  if (inTable !== undefined) return { state: 'redis-lost', epoch: inTable };
  const epoch = await records.initEpoch(epochName(keys), randomUUID());
  // NX: another process starting at the same moment wrote the same table epoch, or Redis lost
  // its data after that process wrote it (then the table's epoch tells, on the next check).
  await redis.set(keys.epoch, epoch, 'NX');
  const now = await redis.get(keys.epoch);
  return now === epoch ? { state: 'ok', epoch } : { state: 'mismatch', redis: String(now), table: epoch };
}

const RESTORE = luaScript('djqEpochRestore', 2, new URL('./epoch-restore.lua', import.meta.url));
type WithRestore = RedisConnection & { djqEpochRestore(mark: string, epoch: string, value: string): Promise<number> };

/** A recovery's mark lives this long at most: a recovery that died leaves no key for good. */
const RECOVERY_MARK_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Before a recovery re-adds anything: a mark in Redis (its token is returned) that `restoreEpoch`
 * requires. Redis losing its data again while the recovery runs takes the mark with it.
 */
export async function beginRecovery(redis: RedisConnection, keys: QueueKeys): Promise<string> {
  const token = randomUUID();
  await redis.set(keys.recoveryMark(token), new Date().toISOString(), 'PX', RECOVERY_MARK_MS);
  return token;
}

/**
 * After a recovery: Redis holds the table's work again, so it gets the table's epoch, only if Redis
 * still holds the recovery's mark (`beginRecovery`): undefined when Redis lost its data during the
 * recovery (what was re-added before that is gone; the epoch still says so).
 */
export async function restoreEpoch(
  redis: RedisConnection,
  keys: QueueKeys,
  records: JobRecordStore,
  recovery: string,
): Promise<string | undefined> {
  const epoch = await records.initEpoch(epochName(keys), randomUUID());
  const scripted = withLuaScripts<WithRestore>(redis, RESTORE);
  return (await scripted.djqEpochRestore(keys.recoveryMark(recovery), keys.epoch, epoch)) === 1 ? epoch : undefined;
}

/** One line for logs and djq stats; what to do next when it is not ok. */
export function describeEpoch(state: EpochState): string {
  switch (state.state) {
    case 'ok':
      return `Redis and DynamoDB belong together (epoch ${state.epoch.slice(0, 8)})`;
    case 'redis-lost':
      return 'Redis lost its data (no epoch in Redis, one in DynamoDB): run `djq recover` to re-enqueue the accepted jobs with no outcome';
    case 'mismatch':
      return state.table === undefined
        ? 'Redis holds jobs of a table that no longer has them (the table is new or was emptied): clear this queue in Redis, or point at the table it belongs to'
        : 'Redis and DynamoDB belong to different runs (their epochs differ): point both at the same deployment';
  }
}
