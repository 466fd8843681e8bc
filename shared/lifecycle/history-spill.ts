// Where a process's job history waits when DynamoDB does not take it: a bounded Redis list per
// queue, shared by the fleet. Entries the recorder cannot hold (its buffer is full while the table
// throttles or is down) or could not write by shutdown go here instead of being dropped; every
// recorder takes a batch back after each successful flush (after one that found it empty, only a
// few seconds later). An incident delays history, it does not drop it — unless the spill itself
// overflows (bounded, counted) or a process dies holding one batch it took.
import type { RedisConnection } from '../runtime/redis.js';
import type { HistoryEntry } from './history-entry.js';

/** At most this many entries wait in Redis (≈200 bytes each): the oldest go first past it. */
export const HISTORY_SPILL_MAX = 200_000;

export interface HistorySpill {
  /** Appends entries (oldest first); resolves to how many the bound pushed out. */
  push(entries: readonly HistoryEntry[]): Promise<number>;
  /** Takes up to `count` of the oldest entries (removed: a caller that fails to write them pushes them back). */
  take(count: number): Promise<HistoryEntry[]>;
}

export class RedisHistorySpill implements HistorySpill {
  constructor(
    private readonly redis: RedisConnection,
    private readonly key: string,
    private readonly max = HISTORY_SPILL_MAX,
  ) {}

  async push(entries: readonly HistoryEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const results = await this.redis
      .multi()
      .rpush(this.key, ...entries.map((e) => JSON.stringify(e)))
      .ltrim(this.key, -this.max, -1)
      .exec();
    const length = Number(results?.[0]?.[1] ?? 0);
    return Math.max(0, length - this.max);
  }

  async take(count: number): Promise<HistoryEntry[]> {
    const raw = (await this.redis.lpop(this.key, count)) ?? [];
    return raw.map((json) => JSON.parse(json) as HistoryEntry);
  }
}
