// A per-job-id lock for the transitions we own (dead-letter move, redrive, purge, producer recovery):
// the one rule that makes them safe against each other on any number of processes. Each holder
// re-reads the job inside the lock and acts only on the instance it read. The lock expires on its
// own (a holder that dies frees it), so what runs under it touches Redis only: bounded and short.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisConnection } from '../runtime/redis.js';
import { type LuaScript, luaScript, withLuaScripts } from '../runtime/redis-scripts.js';

const RELEASE = luaScript('djqTransitionRelease', 1, new URL('./transition-lock-release.lua', import.meta.url));
const FENCED = luaScript('djqTransitionFenced', 2, new URL('./transition-lock-fenced.lua', import.meta.url));

type WithLockScripts = RedisConnection & { djqTransitionRelease(lock: string, token: string): Promise<number> };
type ScriptCall = (...keysAndArgs: (string | number)[]) => Promise<unknown>;

export class TransitionBusyError extends Error {
  override name = 'TransitionBusyError';
}

/** The holder's lock expired (it was paused or slow past the TTL): it stopped before its next write. */
export class TransitionLockLostError extends TransitionBusyError {
  override name = 'TransitionLockLostError';
}

/**
 * Called as `fence()`: proves the lock is still ours and renews it for another TTL; throws
 * TransitionLockLostError if not. A holder calls it right before each write it cannot make through
 * `fence.write` (BullMQ's own commands): a holder paused past the TTL while another actor took the
 * job id then writes nothing more. `fence.write(command, key, ...args)` makes one Redis write in
 * the same step as the check (one script, one round trip): no gap at all.
 */
export interface Fence {
  (): Promise<void>;
  write(command: string, key: string, ...args: (string | number)[]): Promise<unknown>;
  /**
   * Runs a script written to the fence's convention (KEYS[1] the lock, ARGV[1] the token, ARGV[2]
   * the TTL; it replies DJQ_LOCK_LOST when the lock is not held), with `keys` and `args` after those.
   */
  run(script: LuaScript, keys: readonly string[], ...args: (string | number)[]): Promise<unknown>;
}

export interface TransitionLockOptions {
  /** The lock's lifetime: longer than any holder's Redis-only work, short enough to free a dead holder's. */
  ttlMs: number;
  /** How long to wait for a busy lock before giving up with TransitionBusyError. */
  waitMs: number;
}

/** How long a contender waits for a busy lock; the TTL is the config's TRANSITION_LOCK_MS. */
export const TRANSITION_LOCK_WAIT_MS = 15_000;

export async function withTransitionLock<T>(
  redis: RedisConnection,
  key: string,
  fn: (fence: Fence) => Promise<T>,
  options: TransitionLockOptions,
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
  const scripted = withLuaScripts<WithLockScripts>(redis, RELEASE, FENCED);
  const run = async (script: LuaScript, keys: readonly string[], ...args: (string | number)[]) => {
    const command = withLuaScripts<RedisConnection & Record<string, ScriptCall>>(redis, script)[script.name];
    try {
      return await (command as ScriptCall).call(redis, key, ...keys, token, options.ttlMs, ...args);
    } catch (error) {
      if (!(error as Error).message?.includes('DJQ_LOCK_LOST')) throw error;
      throw new TransitionLockLostError(
        `${key} expired while its transition was half-way; it stopped before writing more`,
      );
    }
  };
  // With no write the second key is unused; the lock's own key keeps the call in one cluster slot.
  const fence = Object.assign(async () => void (await run(FENCED, [key])), {
    write: (command: string, target: string, ...args: (string | number)[]) => run(FENCED, [target], command, ...args),
    run,
  });
  try {
    return await fn(fence);
  } finally {
    await scripted.djqTransitionRelease(key, token);
  }
}
