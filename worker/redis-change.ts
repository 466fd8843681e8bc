// Rebuilds what a failover or a restart of a shard's Redis dropped, without an operator. Redis
// acknowledges a write before a replica or the disk has it, so a failover to a lagging replica, or
// a restart with AOF `everysec`, can lose jobs DynamoDB accepted, while the epoch survives (it tells
// only a total loss). The shard's watcher (its sweep lease holder) asks each round which server
// holds the shard (its run_id, which changes with every restart and on every failover) and which
// one its data was last reconciled on (shared/lifecycle/redis-server.ts). When they differ, it runs
// what `djq recover` does (recover-redis.ts), then records the server. A recovery that could not
// finish (a job held past the lock's wait, Redis lost again) leaves the record as it was: a later
// round tries again. One recovery at a time per process, shared by its shards.

import type { QueueKeys } from '../shared/lifecycle/keys.js';
import { redisServerState } from '../shared/lifecycle/redis-server.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { RedisConnection } from '../shared/runtime/redis.js';

/** After a recovery that did not finish (or was refused), the next try waits this long at least. */
export const RETRY_AFTER_MS = 60_000;

export interface RedisChangeDeps {
  redis: RedisConnection;
  keys: QueueKeys;
  /** Whether this worker watches the shard now: only the watcher looks. */
  watching: () => boolean;
  /** Runs the recovery (shared by the process's shards); resolves whether it finished. */
  recover: () => Promise<boolean>;
  /** Whether the shard's Redis lost its data (its epoch is gone while the table has one). */
  redisLost: () => Promise<boolean>;
  logger: Logger;
  intervalMs: number;
}

export class RedisChangeWatch {
  /** Recoveries this watch started (tests read it). */
  recoveries = 0;
  private timer: NodeJS.Timeout | undefined;
  private looking: Promise<void> | undefined;
  private notBefore = 0;
  private closed = false;
  /** Resolves (not finished) when the watch closes: a shutdown does not wait for a whole recovery. */
  private readonly closing: Promise<boolean>;
  private stop: () => void = () => undefined;

  constructor(private readonly deps: RedisChangeDeps) {
    this.closing = new Promise((resolve) => {
      this.stop = () => resolve(false);
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.round(), this.deps.intervalMs);
    this.timer.unref();
  }

  /** One look (shared by concurrent callers); recovers and records the server when it changed. */
  round(): Promise<void> {
    this.looking ??= this.look()
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error }, 'could not tell whether Redis changed; the next round looks again'),
      )
      .finally(() => {
        this.looking = undefined;
      });
    return this.looking;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    // A recovery running is not waited for (it may read a whole table): the process stops it
    // (worker-service.ts), and this watch records nothing for it.
    this.stop();
    await this.looking;
  }

  private async look(): Promise<void> {
    const { redis, keys, logger } = this.deps;
    if (this.closed || !this.deps.watching() || Date.now() < this.notBefore) return;
    const { runId, reconciled } = await redisServerState(redis, keys);
    if (runId === reconciled) return;
    if (reconciled === null && !(await this.deps.redisLost())) {
      // Never recorded, with the data intact (a new deployment, or one from before this record):
      // nothing to recover, this server is the one to compare with from now on.
      await redisServerState(redis, keys, runId);
      return;
    }
    logger.warn(
      { shard: keys.shard, runId, reconciled },
      reconciled === null
        ? "this shard's Redis lost its data: recovering the work it held from DynamoDB"
        : "this shard's Redis is another server than before (a failover or a restart): it may have dropped jobs it had acknowledged; recovering them from DynamoDB",
    );
    this.recoveries += 1;
    const recovery = this.deps.recover().catch((error: unknown) => {
      logger.error({ err: error }, 'recovering Redis from DynamoDB failed; trying again in a minute');
      return false;
    });
    const finished = await Promise.race([recovery, this.closing]);
    if (this.closed) return;
    if (!finished) {
      this.notBefore = Date.now() + RETRY_AFTER_MS;
      return;
    }
    // Only if the same server still holds the shard: one that changed meanwhile is recovered next round.
    await redisServerState(redis, keys, runId);
  }
}

/**
 * One recovery at a time for the whole process: shards whose Redis changed together share it. A
 * caller shares only a recovery that has not begun yet (it begins on the next turn of the event
 * loop, so shards looking together share one); one that comes while a recovery runs gets the next
 * one (shared by all who came meanwhile), never the one running: that one began before the caller
 * saw its server change, its scan may have passed the jobs the change dropped, and its result says
 * nothing of them.
 */
export function singleFlight(run: () => Promise<boolean>): () => Promise<boolean> {
  let pending: Promise<boolean> | undefined;
  let running: Promise<boolean> | undefined;
  const next = async (): Promise<boolean> => {
    await running?.catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    // From here on, a caller gets the recovery after this one.
    pending = undefined;
    const current = run();
    running = current;
    try {
      return await current;
    } finally {
      if (running === current) running = undefined;
    }
  };
  return () => {
    pending ??= next();
    return pending;
  };
}
