// Worker process entry point: `node dist/worker/main.js` (or via npm start / docker).
import '../shared/runtime/node-version.js';
// Then: starts OpenTelemetry before anything loads the AWS SDK (only when OTEL_* ask for traces).
import '../shared/telemetry/preload.js';
import { checkEpoch, describeEpoch } from '../shared/lifecycle/epoch.js';
import { allShardKeys } from '../shared/lifecycle/keys.js';
import { openDynamo, startServiceProbes } from '../shared/runtime/bootstrap.js';
import { loadConfigOrExit } from '../shared/runtime/config.js';
import { createLogger } from '../shared/runtime/logger.js';
import type { RedisConnection } from '../shared/runtime/redis.js';
import { connectRedis, describeRedis, waitForRedis } from '../shared/runtime/redis.js';
import { retryTransient } from '../shared/runtime/retry.js';
import { exitOnStartupError, onShutdownSignal, watchParentFromStart } from '../shared/runtime/shutdown.js';
import { createDynamoStores } from '../shared/store/index.js';
import type { Stores } from '../shared/store/types.js';
import { WorkerMetrics } from './metrics.js';
import { recoverRedis } from './recover-redis.js';
import { startWorkerService, type WorkerService, workerIdOf } from './worker-service.js';

const config = loadConfigOrExit();
// Every line names the worker, so logs from many processes and machines can be told apart.
const logger = createLogger(config, 'worker', { workerId: workerIdOf(config) });

/** What the shutdown keeps for itself after the drain: closing Redis, DynamoDB and the logs. */
const CLOSE_RESERVE_MS = 1000;

async function main() {
  const parentGone = watchParentFromStart();
  const metrics = new WorkerMetrics();
  const dynamo = await openDynamo(config, logger, metrics.dynamoCall);
  const redis = connectRedis(config);
  redis.on('error', (error) => logger.debug({ err: error.message }, 'redis connection error'));
  await waitForRedis(redis, config.REDIS_URL, 30_000);
  const stores = createDynamoStores(dynamo, config);
  const checks = { epoch: () => epochsAgree(stores, redis) };
  const probes = await startServiceProbes({ config, logger, redis, dynamo, registry: metrics.registry, checks });
  // RECOVER_ON_START: what `djq recover` does, before this worker takes its first job.
  if (config.RECOVER_ON_START) await recoverRedis({ config, stores, redis, logger, actor: workerIdOf(config) });
  await reportEpochs(stores, redis);
  const service = startWorkerService({ config, stores, redis, logger, metrics });
  logReady(service, probes.port);

  const stop = onShutdownSignal(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    const drained = await service.close(Math.max(0, config.SHUTDOWN_TIMEOUT_MS - CLOSE_RESERVE_MS));
    probes.close();
    redis.disconnect();
    dynamo.close();
    logger.info({ drained }, drained ? 'worker stopped: in-flight jobs finished' : 'worker stopped after the deadline');
    return 0;
  });
  parentGone(stop);
}

/** /readyz's epoch check: every shard's Redis belongs to this table; else rejects with why. */
async function epochsAgree(stores: Stores, redis: RedisConnection) {
  for (const keys of allShardKeys(config)) {
    const state = await checkEpoch(redis, keys, stores.jobs);
    if (state.state !== 'ok') throw new Error(describeEpoch(state));
  }
}

function logReady(service: WorkerService, metricsPort: number | null): void {
  logger.info(
    {
      workerId: service.workerId,
      queue: config.QUEUE_NAME,
      redis: describeRedis(config),
      table: config.DYNAMODB_TABLE_NAME,
      concurrency: config.WORKER_CONCURRENCY,
      shards: service.shards.map((s) => s.shard),
      metricsPort,
    },
    `worker ${service.workerId} ready: ${config.WORKER_CONCURRENCY} jobs at a time from ${config.QUEUE_NAME}` +
      (config.QUEUE_SHARDS > 1 ? ` (each of shards ${service.shards.map((s) => s.shard).join(', ')})` : ''),
  );
}

/**
 * Says at start when Redis lost its data or belongs to another table (also in /readyz). Never
 * stops the worker: a DynamoDB that fails now is retried briefly, then said, and /readyz asks again.
 */
async function reportEpochs(stores: Stores, redis: RedisConnection) {
  for (const keys of allShardKeys(config)) {
    try {
      const state = await retryTransient(() => checkEpoch(redis, keys, stores.jobs));
      if (state.state !== 'ok') logger.error({ shard: keys.shard, epoch: state }, describeEpoch(state));
    } catch (error) {
      logger.warn(
        { shard: keys.shard, err: (error as Error).message },
        'could not compare the Redis and DynamoDB epochs',
      );
    }
  }
}

main().catch((error: unknown) => exitOnStartupError(logger, error));
