// The console's per-minute series that BullMQ's own metrics do not keep: failed attempts, put
// backs, dead-letter moves, attempt durations (a small histogram, for p50/p95), queue depth, and
// DynamoDB's consumed and throttled capacity. A worker counts in memory (a transition or a DynamoDB
// call only bumps a Map entry) and adds its counts to one Redis hash per minute on an interval: one
// pipeline per flush, a few HINCRBYs per minute bucket, each hash expiring after SERIES_RETENTION.
import type { DynamoCall } from '../dynamo/instrumentation.js';
import type { RedisConnection } from '../runtime/redis.js';
import type { JobLifecycle } from './job-lifecycle.js';
import type { QueueKeys } from './keys.js';

/** How long a minute's hash lives: the day the charts show, and a margin. */
export const SERIES_RETENTION_SECONDS = 25 * 3600;

/** Fields of a minute's hash. Duration bins are `d<bin>`, queue depth `depth:<shard>`. */
export const SERIES_FIELDS = {
  failedAttempts: 'failed',
  putBack: 'putback',
  deadLettered: 'dead',
  capacityUnits: 'cu',
  throttled: 'throttled',
} as const;
type CountField = (typeof SERIES_FIELDS)[keyof typeof SERIES_FIELDS];

/**
 * Attempt durations fall in bins a quarter power of two wide (about 19%): bin b holds durations up
 * to 2^(b/4) ms, bin 0 everything up to 1 ms. Sixty bins reach 30 s; longer ones land in the last.
 */
const BINS_PER_DOUBLING = 4;
const LAST_BIN = 60;
export const durationBin = (ms: number): number =>
  ms <= 1 ? 0 : Math.min(LAST_BIN, Math.ceil(Math.log2(ms) * BINS_PER_DOUBLING));
export const binUpperMs = (bin: number): number => 2 ** (bin / BINS_PER_DOUBLING);

const minuteOf = (ms: number) => Math.floor(ms / 60_000);

export interface MinuteSeriesOptions {
  /** How often the counts go to Redis. @default 5000 */
  flushIntervalMs?: number;
  /**
   * Each shard this process consumes, with its queue depth (waiting, prioritized, delayed), sampled
   * on each flush; undefined: not this process's to sample (one worker per shard does).
   */
  depth?: readonly { shard: number; count: () => Promise<number | undefined> }[];
  now?: () => number;
  /** Told of a flush that failed (its counts are lost: the charts are a glance, not an audit). */
  onError?: (error: unknown) => void;
}

/** One process's writer: counts in memory, adds them to shard 0's minute hashes on an interval. */
export class MinuteSeriesRecorder {
  private pending = new Map<number, Map<string, number>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: QueueKeys,
    private readonly options: MinuteSeriesOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  add(field: CountField | `d${number}`, amount = 1, at = this.now()): void {
    if (!(amount > 0)) return;
    const minute = minuteOf(at);
    const counts = this.pending.get(minute) ?? new Map<string, number>();
    this.pending.set(minute, counts);
    counts.set(field, (counts.get(field) ?? 0) + amount);
  }

  /** Counts the lifecycle's transitions; returns the unsubscribe. */
  observe(lifecycle: Pick<JobLifecycle, 'onTransition'>): () => void {
    return lifecycle.onTransition((t) => {
      const at = Date.parse(t.at) || this.now();
      if (t.type === 'attempt-failed') {
        this.add(SERIES_FIELDS.failedAttempts, 1, at);
        this.add(`d${durationBin(t.durationMs)}`, 1, at);
      } else if (t.type === 'completed') this.add(`d${durationBin(t.durationMs)}`, 1, at);
      else if (t.type === 'put-back') this.add(SERIES_FIELDS.putBack, 1, at);
      else if (t.type === 'dead-lettered') this.add(SERIES_FIELDS.deadLettered, 1, at);
    });
  }

  /** A DynamoDB observer (see instrumentation.ts): every call of the process, history writes included. */
  dynamoCall = (call: DynamoCall): void => {
    this.add(SERIES_FIELDS.capacityUnits, call.capacityUnits);
    this.add(SERIES_FIELDS.throttled, call.throttledRequests);
  };

  start(): this {
    const interval = this.options.flushIntervalMs ?? 5000;
    this.timer = setInterval(() => void this.flush().catch((error) => this.options.onError?.(error)), interval);
    this.timer.unref();
    return this;
  }

  /** Adds the counts so far to Redis (and samples the queue depth). Counts a failed write lost. */
  flush(): Promise<void> {
    // Chained so two flushes never interleave, and one that failed does not fail the next.
    const next = this.flushing.catch(() => undefined).then(() => this.write());
    this.flushing = next;
    return next;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush().catch((error) => this.options.onError?.(error));
  }

  private async write(): Promise<void> {
    const minute = minuteOf(this.now());
    const depths = await Promise.all(
      (this.options.depth ?? []).map(async (d) => [d.shard, await d.count().catch(() => undefined)] as const),
    );
    const pending = this.pending;
    this.pending = new Map();
    const pipeline = this.redis.pipeline();
    const touched = new Set<number>();
    for (const [m, counts] of pending) {
      const key = this.keys.minuteSeries(m);
      for (const [field, amount] of counts) {
        if (field === SERIES_FIELDS.capacityUnits) pipeline.hincrbyfloat(key, field, amount);
        else pipeline.hincrby(key, field, amount);
      }
      touched.add(m);
    }
    for (const [shard, depth] of depths) {
      if (depth === undefined) continue;
      pipeline.hset(this.keys.minuteSeries(minute), `depth:${shard}`, depth);
      touched.add(minute);
    }
    if (touched.size === 0) return;
    for (const m of touched) pipeline.expire(this.keys.minuteSeries(m), SERIES_RETENTION_SECONDS);
    await pipeline.exec();
  }
}

export interface ActivitySeries {
  /** The minutes, oldest first, as ISO times of each minute's start. */
  minutes: string[];
  failedAttempts: number[];
  putBack: number[];
  deadLettered: number[];
  /** Attempt durations (completed and failed), ms, as the upper bound of their bin; null: no attempt that minute. */
  p50Ms: (number | null)[];
  p95Ms: (number | null)[];
  /** Jobs waiting, prioritized or delayed, summed over the shards; null: no worker sampled that minute. */
  depth: (number | null)[];
  capacityUnits: number[];
  throttled: number[];
}

/** The last `minutes` minutes of every shard's series, summed. One pipeline of HGETALLs per shard. */
export async function readMinuteSeries(
  redis: RedisConnection,
  shards: readonly QueueKeys[],
  minutes: number,
  now = Date.now(),
): Promise<ActivitySeries> {
  const last = minuteOf(now);
  const first = last - minutes + 1;
  const hashes: Record<string, string>[][] = await Promise.all(
    shards.map(async (keys) => {
      const pipeline = redis.pipeline();
      for (let m = first; m <= last; m++) pipeline.hgetall(keys.minuteSeries(m));
      const results = (await pipeline.exec()) ?? [];
      return results.map(([error, value]) => (error ? {} : ((value as Record<string, string>) ?? {})));
    }),
  );
  const out: ActivitySeries = {
    minutes: [],
    failedAttempts: [],
    putBack: [],
    deadLettered: [],
    p50Ms: [],
    p95Ms: [],
    depth: [],
    capacityUnits: [],
    throttled: [],
  };
  for (let i = 0; i < minutes; i++) {
    const merged = new Map<string, number>();
    for (const shard of hashes)
      for (const [field, value] of Object.entries(shard[i] ?? {}))
        merged.set(field, (merged.get(field) ?? 0) + Number(value));
    const get = (field: string) => merged.get(field) ?? 0;
    const bins: [number, number][] = [];
    let depth: number | null = null;
    for (const [field, value] of merged) {
      if (/^d\d+$/.test(field)) bins.push([Number(field.slice(1)), value]);
      else if (field.startsWith('depth:')) depth = (depth ?? 0) + value;
    }
    out.minutes.push(new Date((first + i) * 60_000).toISOString());
    out.failedAttempts.push(get(SERIES_FIELDS.failedAttempts));
    out.putBack.push(get(SERIES_FIELDS.putBack));
    out.deadLettered.push(get(SERIES_FIELDS.deadLettered));
    out.capacityUnits.push(Math.round(get(SERIES_FIELDS.capacityUnits) * 10) / 10);
    out.throttled.push(get(SERIES_FIELDS.throttled));
    out.p50Ms.push(quantile(bins, 0.5));
    out.p95Ms.push(quantile(bins, 0.95));
    out.depth.push(depth);
  }
  return out;
}

/** The q-quantile of a duration histogram, as its bin's upper bound in ms (rounded to 0.1 ms). */
export function quantile(bins: readonly [bin: number, count: number][], q: number): number | null {
  const total = bins.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  const sorted = [...bins].sort((a, b) => a[0] - b[0]);
  let seen = 0;
  for (const [bin, count] of sorted) {
    seen += count;
    if (seen >= q * total) return Math.round(binUpperMs(bin) * 10) / 10;
  }
  return Math.round(binUpperMs(sorted.at(-1)?.[0] ?? 0) * 10) / 10;
}

/**
 * BullMQ's own per-minute counts (`metrics: { maxDataPoints }` on the worker), laid on the same
 * minutes: its list's newest point is the minute before `meta.prevTS`'s, and the jobs counted since
 * (`count - prevCount`) all fall in prevTS's minute.
 */
export function alignBullMetrics(
  metrics: { meta: { count: number; prevTS: number; prevCount: number }; data: number[] },
  minutes: number,
  now = Date.now(),
): number[] {
  const out = new Array<number>(minutes).fill(0);
  if (!metrics.meta.prevTS) return out;
  const first = minuteOf(now) - minutes + 1;
  const place = (minute: number, value: number) => {
    const i = minute - first;
    if (i >= 0 && i < minutes) out[i] = (out[i] ?? 0) + value;
  };
  const prev = minuteOf(metrics.meta.prevTS);
  place(prev, metrics.meta.count - metrics.meta.prevCount);
  metrics.data.forEach((value, i) => {
    place(prev - 1 - i, value);
  });
  return out;
}
