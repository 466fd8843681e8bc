// Board process entry point: `npm run board` (or `node dist/board/main.js`, or via npm start).
import '../shared/runtime/node-version.js';
// Then: starts OpenTelemetry before anything loads the AWS SDK (only when OTEL_* ask for traces).
import '../shared/telemetry/preload.js';
import { loadConfigOrExit } from '../shared/runtime/config.js';
import { createLogger } from '../shared/runtime/logger.js';
import { connectRedis, describeRedis, waitForRedis } from '../shared/runtime/redis.js';
import { exitOnStartupError, onShutdownSignal, watchParentFromStart } from '../shared/runtime/shutdown.js';
import { startBoard } from './board-server.js';

const config = loadConfigOrExit();
const logger = createLogger(config, 'board');

async function main() {
  const parentGone = watchParentFromStart();
  // A deadline on every command: a Redis that stops answering must end each request with an error, not hold it.
  const redis = connectRedis(config, { commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS });
  redis.on('error', (error) => logger.debug({ err: error.message }, 'redis connection error'));
  await waitForRedis(redis, config.REDIS_URL, 30_000);
  const board = await startBoard({ config, redis, logger });
  logger.info(
    {
      url: board.url,
      queue: config.QUEUE_NAME,
      redis: describeRedis(config),
      auth: config.BOARD_USERNAME !== undefined,
      readOnly: config.BOARD_READ_ONLY,
    },
    `board ready: ${board.url} (console ${board.origin}/console, API ${board.origin}/api/dlq, metrics ${board.origin}/metrics)`,
  );

  const stop = onShutdownSignal(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
    await board.close();
    redis.disconnect();
    logger.info('board stopped');
    return 0;
  });
  parentGone(stop);
}

main().catch((error: unknown) => exitOnStartupError(logger, error));
