// A per-job-id lock for the transitions we own (dead-letter move, redrive, purge, producer recovery):
// the one rule that makes them safe against each other on any number of processes. Each holder
// re-reads the job inside the lock and acts only on the instance it read. The lock expires on its
// own (a holder that dies frees it), so what runs under it touches Redis only: bounded and short.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisConnection } from '../runtime/redis.js';

/** Deletes the key only if it still holds our token: never frees a lock that expired and was retaken. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class TransitionBusyError extends Error {
  override name = 'TransitionBusyError';
}

export interface TransitionLockOptions {
  /** The lock's lifetime: longer than any holder's Redis-only work, short enough to free a dead holder's. */
  ttlMs: number;
  /** How long to wait for a busy lock before giving up with TransitionBusyError. */
  waitMs: number;
}

export const DEFAULT_TRANSITION_LOCK: TransitionLockOptions = { ttlMs: 30_000, waitMs: 15_000 };

export async function withTransitionLock<T>(
  redis: RedisConnection,
  key: string,
  fn: () => Promise<T>,
  options: TransitionLockOptions = DEFAULT_TRANSITION_LOCK,
  /** Called once when the lock is found held (tests use it to know a contender is waiting). */
  onBusy: () => void = () => undefined,
): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + options.waitMs;
  for (let pause = 5, attempt = 0; ; pause = Math.min(pause * 2, 200), attempt++) {
    if ((await redis.set(key, token, 'PX', options.ttlMs, 'NX')) === 'OK') break;
    if (attempt === 0) onBusy();
    if (Date.now() >= deadline) throw new TransitionBusyError(`${key} is busy with another transition; try again`);
    await sleep(pause);
  }
  try {
    return await fn();
  } finally {
    await redis.eval(RELEASE, 1, key, token);
  }
}
