// ioredis connections, configured the way BullMQ needs them, with TLS and AUTH from the config:
// a rediss:// REDIS_URL turns TLS on (verified against REDIS_TLS_CA_FILE, or the system's CAs),
// and user:password@ in it authenticates (ACL user, or `requirepass` with no user).
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { type Config, ConfigError, redactUrl } from './config.js';

export { redactUrl };

/** What a connection needs to know: where, and which CA vouches for the server. */
export type RedisTarget = Pick<Config, 'REDIS_URL' | 'REDIS_TLS_CA_FILE'>;

/**
 * TLS options beyond what the URL says. The CA file is read once per connection, so a rotated CA
 * is picked up by the next process; a file that cannot be read is a configuration error.
 */
export function redisTlsOptions(target: RedisTarget): RedisOptions {
  if (!target.REDIS_TLS_CA_FILE) return {};
  let ca: Buffer;
  try {
    ca = readFileSync(target.REDIS_TLS_CA_FILE);
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration:\n  REDIS_TLS_CA_FILE=${JSON.stringify(target.REDIS_TLS_CA_FILE)}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
  return { tls: { ca } };
}

/**
 * Workers and long-lived services: `maxRetriesPerRequest: null` so commands wait out a Redis
 * restart instead of failing (BullMQ requires it for workers).
 */
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): Redis {
  return new Redis(target.REDIS_URL, {
    maxRetriesPerRequest: null,
    // Reconnect forever with a capped backoff: a Redis restart must not end the process.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...redisTlsOptions(target),
    ...options,
  });
}

/** Producers and the CLI fail fast while Redis is down, so a caller can retry or report it. */
export function connectRedisFailFast(target: RedisTarget, options: RedisOptions = {}): Redis {
  return connectRedis(target, { enableOfflineQueue: false, maxRetriesPerRequest: 1, ...options });
}

/**
 * Resolves once the connection is ready, or rejects with an error that says what to do, naming the
 * last connection error (a refused password, an untrusted certificate) but never the password.
 */
export async function waitForRedis(redis: Redis, url: string, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  let lastError = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      const cause = lastError ? ` (last error: ${lastError})` : ': is it running?';
      reject(
        new Error(
          `Redis at ${redactUrl(url)} did not answer within ${timeoutMs} ms${cause}. Check REDIS_URL (and REDIS_TLS_CA_FILE for rediss://).`,
        ),
      );
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      lastError = redactSecrets(error.message, url);
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
    };
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}

/** An error message with the URL's password (and the URL itself) made safe to print. */
export function redactSecrets(message: string, url: string): string {
  let out = message.split(url).join(redactUrl(url));
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) out = out.split(password).join('***');
  } catch {
    // Not a URL: nothing more to hide than redactUrl did.
  }
  return out;
}
