// A per-job-id lock for the transitions we own (dead-letter move, redrive, purge, producer recovery):
// the one rule that makes them safe against each other on any number of processes. Each holder
// re-reads the job inside the lock and acts only on the instance it read. The lock expires on its
// own (a holder that dies frees it), so what runs under it touches Redis only: bounded and short.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisConnection } from '../runtime/redis.js';

/** Deletes the key only if it still holds our token: never frees a lock that expired and was retaken. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Renews the lock only if it still holds our token: the fence a holder passes before each write. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

export class TransitionBusyError extends Error {
  override name = 'TransitionBusyError';
}

/** The holder's lock expired (it was paused or slow past the TTL): it stopped before its next write. */
export class TransitionLockLostError extends TransitionBusyError {
  override name = 'TransitionLockLostError';
}

/**
 * Proves the lock is still ours and renews it for another TTL; throws TransitionLockLostError if
 * not. A holder calls it right before each write: a holder paused past the TTL (a GC pause, a
 * blocked event loop, SIGSTOP) while another actor took the job id then writes nothing more, and
 * each write runs with a whole TTL ahead of it.
 */
export type Fence = () => Promise<void>;

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
  fn: (fence: Fence) => Promise<T>,
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
  const fence: Fence = async () => {
    if ((await redis.eval(RENEW, 1, key, token, options.ttlMs)) !== 1)
      throw new TransitionLockLostError(
        `${key} expired while its transition was half-way; it stopped before writing more`,
      );
  };
  try {
    return await fn(fence);
  } finally {
    await redis.eval(RELEASE, 1, key, token);
  }
}
