// Board process entry point: `npm run board` (or `node dist/board/main.js`, or via npm start).
import '../shared/node-version.js';
import { exitOnStartupError, onShutdownSignal, stopWhenParentExits } from '../shared/bootstrap.js';
import { loadConfigOrExit } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { connectRedis, redactUrl, waitForRedis } from '../shared/redis.js';
import { startBoard } from './board-server.js';

const config = loadConfigOrExit();
const logger = createLogger(config, 'board');

async function main() {
  const redis = connectRedis(config.REDIS_URL);
  redis.on('error', (error) => logger.debug({ err: error.message }, 'redis connection error'));
  await waitForRedis(redis, config.REDIS_URL, 30_000);
  const board = await startBoard({ config, redis, logger });
  logger.info(
    {
      url: board.url,
      queue: config.QUEUE_NAME,
      redis: redactUrl(config.REDIS_URL),
      auth: config.BOARD_USERNAME !== undefined,
      readOnly: config.BOARD_READ_ONLY,
    },
    `board ready: ${board.url} (API ${board.origin}/api/dlq, metrics ${board.origin}/metrics)`,
  );

  onShutdownSignal(logger, async () => {
    await board.close();
    await redis.quit().catch(() => redis.disconnect());
    logger.info('board stopped');
    return 0;
  });
}

stopWhenParentExits();
main().catch((error: unknown) => exitOnStartupError(logger, error));
