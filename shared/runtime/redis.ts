// ioredis connections, configured the way BullMQ needs them.
import { Redis, type RedisOptions } from 'ioredis';

/**
 * Workers and long-lived services: `maxRetriesPerRequest: null` so commands wait out a Redis
 * restart instead of failing (BullMQ requires it for workers).
 */
export function connectRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    // Reconnect forever with a capped backoff: a Redis restart must not end the process.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...options,
  });
}

/** Producers and the CLI fail fast while Redis is down, so a caller can retry or report it. */
export function connectRedisFailFast(url: string, options: RedisOptions = {}): Redis {
  return connectRedis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, ...options });
}

/** Resolves once the connection is ready, or rejects with an error that says what to do. */
export async function waitForRedis(redis: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new Error(`Redis at ${redactUrl(url)} did not answer within ${timeoutMs} ms: is it running? Set REDIS_URL.`),
      );
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** Hides a password in a URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
