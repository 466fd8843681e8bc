// Producer process entry point: `node dist/producer/main.js` (or via npm start / docker).
import '../shared/node-version.js';

import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { exitOnStartupError, onShutdownSignal, openDynamo, stopWhenParentExits } from '../shared/bootstrap.js';
import { loadConfigOrExit } from '../shared/config.js';
import { describeTable } from '../shared/dynamo/table.js';
import { startHistoryRecorder } from '../shared/history.js';
import { Ledger } from '../shared/ledger.js';
import { createLogger } from '../shared/logger.js';
import { startProbeServer } from '../shared/probe-server.js';
import { openQueues, operationJobOptions } from '../shared/queues.js';
import { connectRedisFailFast, redactUrl, waitForRedis } from '../shared/redis.js';
import { createDynamoStores } from '../shared/store/index.js';
import { OperationGenerator } from './generator.js';
import { Producer } from './producer.js';

const config = loadConfigOrExit();
const logger = createLogger(config, 'producer');

async function main() {
  const dynamo = await openDynamo(config, logger);
  const stores = createDynamoStores(dynamo, config);
  // Fail fast while Redis is down: the tick keeps its jobs and retries them on the next interval.
  const redis = connectRedisFailFast(config.REDIS_URL);
  redis.on('error', (error) => logger.debug({ err: error.message }, 'redis connection error'));
  await waitForRedis(redis, config.REDIS_URL, 30_000);
  const queues = openQueues(config, redis);
  const history = startHistoryRecorder(config, stores.history, logger);
  const producer = new Producer({
    queues,
    ledger: new Ledger(redis, config.QUEUE_PREFIX, config.QUEUE_NAME, config.LEDGER_MAX_ENTRIES),
    generator: new OperationGenerator({
      mix: config.OPERATION_MIX,
      batchSize: config.BATCH_SIZE,
      invalidRate: config.INVALID_JOB_RATE,
    }),
    jobOptions: operationJobOptions(config),
    intervalMs: config.OPERATION_INTERVAL_MS,
    perTick: config.OPERATIONS_PER_TICK,
    ...(config.MAX_OPERATIONS !== undefined ? { maxOperations: config.MAX_OPERATIONS } : {}),
    logger,
    history,
    onEnqueued: (count) => enqueued.inc(count),
  });

  // /healthz for container health checks, /metrics with the enqueue counter.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const enqueued = new Counter({
    name: 'djq_jobs_enqueued_total',
    help: 'Jobs enqueued by this producer',
    registers: [registry],
  });
  const probe =
    config.METRICS_PORT > 0
      ? await startProbeServer({
          port: config.METRICS_PORT,
          portHint: 'set METRICS_PORT to a free port, or 0 to turn the listener off',
          registry,
          readiness: {
            redis: () => redis.ping(),
            dynamodb: () => describeTable(dynamo.client, config.DYNAMODB_TABLE_NAME),
          },
        })
      : undefined;

  const shutdown = async () => {
    probe?.server.close();
    await history.close();
    await queues.close();
    await redis.quit().catch(() => redis.disconnect());
    dynamo.close();
  };
  onShutdownSignal(logger, async () => {
    producer.stop();
    await shutdown();
    logger.info({ produced: producer.produced }, `producer stopped after ${producer.produced} jobs`);
    return 0;
  });

  await producer.recover();
  logger.info(
    {
      queue: config.QUEUE_NAME,
      redis: redactUrl(config.REDIS_URL),
      intervalMs: config.OPERATION_INTERVAL_MS,
      perTick: config.OPERATIONS_PER_TICK,
      maxOperations: config.MAX_OPERATIONS ?? null,
      mix: config.OPERATION_MIX,
    },
    `producer started: ${config.OPERATIONS_PER_TICK} job(s) every ${config.OPERATION_INTERVAL_MS} ms`,
  );
  await producer.run();
  if (producer.done) {
    await shutdown();
    logger.info({ produced: producer.produced }, `producer done: ${producer.produced} jobs enqueued (MAX_OPERATIONS)`);
    process.exit(0);
  }
}

stopWhenParentExits();
main().catch((error: unknown) => exitOnStartupError(logger, error));
