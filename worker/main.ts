// Worker process entry point: `node dist/worker/main.js` (or via npm start / docker).
import '../shared/node-version.js';
import { exitOnStartupError, onShutdownSignal, openDynamo, stopWhenParentExits } from '../shared/bootstrap.js';
import { loadConfigOrExit } from '../shared/config.js';
import { describeTable } from '../shared/dynamo/table.js';
import { createLogger } from '../shared/logger.js';
import { startProbeServer } from '../shared/probe-server.js';
import { connectRedis, redactUrl, waitForRedis } from '../shared/redis.js';
import { createDynamoStores } from '../shared/store/index.js';
import { WorkerMetrics } from './metrics.js';
import { startWorkerService, workerIdOf } from './worker-service.js';

const config = loadConfigOrExit();
// Every line names the worker, so logs from many processes and machines can be told apart.
const logger = createLogger(config, 'worker', { workerId: workerIdOf(config) });

async function main() {
  const metrics = new WorkerMetrics();
  const dynamo = await openDynamo(config, logger, metrics.dynamoCall);
  const redis = connectRedis(config.REDIS_URL);
  redis.on('error', (error) => logger.debug({ err: error.message }, 'redis connection error'));
  await waitForRedis(redis, config.REDIS_URL, 30_000);
  let probe: Awaited<ReturnType<typeof startProbeServer>> | undefined;
  if (config.METRICS_PORT > 0) {
    probe = await startProbeServer({
      port: config.METRICS_PORT,
      portHint: 'set METRICS_PORT to a free port, or 0 to turn the listener off',
      registry: metrics.registry,
      readiness: {
        redis: () => redis.ping(),
        dynamodb: () => describeTable(dynamo.client, config.DYNAMODB_TABLE_NAME),
      },
    });
  }
  const service = startWorkerService({ config, stores: createDynamoStores(dynamo, config), redis, logger, metrics });

  logger.info(
    {
      workerId: service.workerId,
      queue: config.QUEUE_NAME,
      redis: redactUrl(config.REDIS_URL),
      table: config.DYNAMODB_TABLE_NAME,
      concurrency: config.WORKER_CONCURRENCY,
      metricsPort: probe?.port ?? null,
    },
    `worker ${service.workerId} ready: ${config.WORKER_CONCURRENCY} jobs at a time from ${config.QUEUE_NAME}`,
  );

  onShutdownSignal(logger, async () => {
    const drained = await service.close();
    probe?.server.close();
    await redis.quit().catch(() => redis.disconnect());
    dynamo.close();
    logger.info({ drained }, drained ? 'worker stopped: in-flight jobs finished' : 'worker stopped after the timeout');
    return 0;
  });
}

stopWhenParentExits();
main().catch((error: unknown) => exitOnStartupError(logger, error));
