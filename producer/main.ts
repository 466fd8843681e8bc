// Producer process entry point: `node dist/producer/main.js` (or via npm start / docker).
import '../shared/runtime/node-version.js';
// Then: starts OpenTelemetry before anything loads the AWS SDK (only when OTEL_* ask for traces).
import '../shared/telemetry/preload.js';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { logTransitions } from '../shared/lifecycle/transition-log.js';
import { openDynamo, startServiceProbes } from '../shared/runtime/bootstrap.js';
import { loadConfigOrExit } from '../shared/runtime/config.js';
import { createLogger } from '../shared/runtime/logger.js';
import { connectRedisFailFast, describeRedis, waitForRedis } from '../shared/runtime/redis.js';
import { exitOnStartupError, exitProcess, onShutdownSignal, watchParentFromStart } from '../shared/runtime/shutdown.js';
import { createDynamoStores } from '../shared/store/index.js';
import { openShardedSystem, type ShardedJobSystem } from '../shared/wiring.js';
import { OperationGenerator } from './generator.js';
import { Producer } from './producer.js';

const config = loadConfigOrExit();
const logger = createLogger(config, 'producer');

async function main() {
  const parentGone = watchParentFromStart();
  const { dynamo, redis, system } = await connect();
  const { registry, enqueued } = producerMetrics();
  const producer = createProducer(system, (count) => enqueued.inc(count));
  const probes = await startServiceProbes({ config, logger, redis, dynamo, registry });

  /** The tick in flight finishes first (its jobs are in the ledger: they must reach the queue). */
  const shutdown = async () => {
    await producer.stop();
    probes.close();
    await system.close();
    redis.disconnect();
    dynamo.close();
  };
  const stop = onShutdownSignal(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    await shutdown();
    logger.info({ produced: producer.produced }, `producer stopped after ${producer.produced} jobs`);
    return 0;
  });
  parentGone(stop);

  await producer.recover();
  logStarted();
  await producer.run();
  if (producer.done) {
    await shutdown();
    logger.info({ produced: producer.produced }, `producer done: ${producer.produced} jobs enqueued (MAX_OPERATIONS)`);
    exitProcess(0);
  }
}

/** DynamoDB (table checked), Redis, and every shard's lifecycle as the producer's. */
async function connect() {
  const dynamo = await openDynamo(config, logger);
  // Fail fast while Redis is down: the tick keeps its jobs and retries them on the next interval.
  const redis = connectRedisFailFast(config);
  redis.on('error', (error) => logger.debug({ err: error.message }, 'redis connection error'));
  await waitForRedis(redis, config.REDIS_URL, 30_000);
  const system = openShardedSystem({
    config,
    redis,
    stores: createDynamoStores(dynamo, config),
    logger,
    actor: 'producer',
  });
  for (const shard of system.shards) logTransitions(shard.lifecycle, logger);
  return { dynamo, redis, system };
}

/** /metrics: the process's default metrics and the enqueue counter. */
function producerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const enqueued = new Counter({
    name: 'djq_jobs_enqueued_total',
    help: 'Jobs enqueued by this producer',
    registers: [registry],
  });
  return { registry, enqueued };
}

function createProducer(system: ShardedJobSystem, onEnqueued: (count: number) => void): Producer {
  return new Producer({
    shards: system.shards.map((s) => s.lifecycle),
    shardOf: system.shardOf,
    generator: new OperationGenerator({
      mix: config.OPERATION_MIX,
      batchSize: config.BATCH_SIZE,
      invalidRate: config.INVALID_JOB_RATE,
    }),
    intervalMs: config.OPERATION_INTERVAL_MS,
    perTick: config.OPERATIONS_PER_TICK,
    ...(config.MAX_OPERATIONS !== undefined ? { maxOperations: config.MAX_OPERATIONS } : {}),
    logger,
    onEnqueued,
  });
}

function logStarted(): void {
  logger.info(
    {
      queue: config.QUEUE_NAME,
      redis: describeRedis(config),
      shards: config.QUEUE_SHARDS,
      intervalMs: config.OPERATION_INTERVAL_MS,
      perTick: config.OPERATIONS_PER_TICK,
      maxOperations: config.MAX_OPERATIONS ?? null,
      mix: config.OPERATION_MIX,
    },
    `producer started: ${config.OPERATIONS_PER_TICK} job(s) every ${config.OPERATION_INTERVAL_MS} ms`,
  );
}

main().catch((error: unknown) => exitOnStartupError(logger, error));
