// Finds the services the tests need, never skipping: REDIS_URL (or 127.0.0.1:6379) if it answers,
// else a redis-server from PATH on a free port, else testcontainers' Redis when Docker runs. A
// missing service fails the run with a clear message.
import { hasCommand, REDIS_INSTALL_HINT, redisAnswers, startThrowawayRedis } from '../../devtools/local-services.js';

export { freePort, startDynalite, startRedisServer } from '../../devtools/local-services.js';

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

export async function findRedis(): Promise<TestRedis> {
  const candidate = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (await redisAnswers(candidate)) return { url: candidate, stop: async () => undefined };
  if (hasCommand('redis-server')) return startThrowawayRedis();
  try {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      stop: async () => {
        await container.stop();
      },
    };
  } catch (error) {
    throw new Error(`${REDIS_INSTALL_HINT} (testcontainers could not start one either: ${(error as Error).message})`);
  }
}
