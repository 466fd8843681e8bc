// What `djq recover` does, run by a worker: at start (RECOVER_ON_START), and when a shard's Redis is
// no longer the server its data was reconciled on (redis-change.ts). Re-enqueues every accepted job
// that no queue holds and puts back the DLQ entries Redis lost; safe while workers run and twice
// at once (shared/operator/recover.ts). A Redis of another run is left alone, as `djq recover`
// without --force leaves it: its jobs would mix with this run's, and its epoch would be overwritten.
import { describeEpoch } from '../shared/lifecycle/epoch.js';
import { recoverFromRecords } from '../shared/operator/recover.js';
import type { Config } from '../shared/runtime/config.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { RedisConnection } from '../shared/runtime/redis.js';
import { retryTransient } from '../shared/runtime/retry.js';
import type { Stores } from '../shared/store/types.js';
import { openShardedSystem } from '../shared/wiring.js';

export interface RecoverRedisDeps {
  config: Config;
  stores: Stores;
  redis: RedisConnection;
  logger: Logger;
  actor: string;
  /** Stops the recovery between two records (the worker is shutting down): it then did not finish. */
  signal?: AbortSignal;
}

/** Whether Redis now holds all the work the table says it should: false if refused, or to run again. */
export async function recoverRedis({
  config,
  stores,
  redis,
  logger,
  actor,
  signal,
}: RecoverRedisDeps): Promise<boolean> {
  if (signal?.aborted) return false;
  const system = openShardedSystem({ config, redis, stores, logger, actor });
  try {
    for (const [shard, { checkEpoch: check }] of system.shards.entries()) {
      const state = await retryTransient(check);
      if (state.state === 'mismatch') {
        logger.error({ shard, epoch: state }, `not recovering Redis from DynamoDB: ${describeEpoch(state)}`);
        return false;
      }
    }
    const report = await recoverFromRecords(system, {
      onProgress: (r) => logger.info({ ...r, examples: undefined }, 'recovering Redis from DynamoDB'),
      progressEvery: 10_000,
      signal,
    });
    if (report.interrupted) {
      logger.warn({ records: report.records }, 'recovering Redis from DynamoDB stopped before the end (shutting down)');
      return false;
    }
    logger.info(
      { reEnqueued: report.reEnqueued, deadLettersRestored: report.deadLettersRestored, records: report.records },
      `recovered Redis from DynamoDB: ${report.reEnqueued} job(s) re-enqueued, ${report.deadLettersRestored} DLQ entries restored`,
    );
    if (report.lostDuringRecovery.length > 0)
      logger.error(
        { shards: report.lostDuringRecovery },
        'Redis lost its data again while recovering: its epoch was not restored; recovering again',
      );
    if (report.busy.length > 0)
      logger.error(
        { busy: report.busy.length, examples: report.busy.slice(0, 5) },
        'jobs held by another process while recovering may still be missing from Redis; recovering again',
      );
    return report.lostDuringRecovery.length === 0 && report.busy.length === 0;
  } finally {
    await system.close();
  }
}
