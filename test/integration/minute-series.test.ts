// The console's per-minute series against real Redis: a worker's counts (transitions, DynamoDB
// calls, queue depth) land in one hash per minute with a retention and read back summed; BullMQ's
// own per-minute metrics line up on the same minutes. Fixed clocks: no timing assertions.
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import {
  alignBullMetrics,
  MinuteSeriesRecorder,
  quantile,
  readMinuteSeries,
  SERIES_RETENTION_SECONDS,
} from '../../shared/lifecycle/minute-series.js';
import type { Transition } from '../../shared/lifecycle/transition.js';
import { waitFor } from '../helpers/pipeline.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';

const { config } = testEnv();
const keys = queueKeys(config);
let redis: Redis;

beforeAll(() => {
  redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  await deleteKeys(redis, keys.everyKeyPattern);
  redis.disconnect();
});

/** A lifecycle stand-in: the recorder only subscribes to transitions. */
function transitions() {
  const listeners = new Set<(t: Transition) => void>();
  return {
    onTransition(listener: (t: Transition) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(t: Transition) {
      for (const l of listeners) l(t);
    },
  };
}

const base = { actor: 'w1', jobId: 'j', op: 'update-user' } as const;
const failed = (at: string, durationMs: number): Transition => ({
  ...base,
  at,
  type: 'attempt-failed',
  attempt: 1,
  maxAttempts: 3,
  durationMs,
  errorClass: 'Error',
  kind: 'transient',
  message: 'x',
  retryable: true,
  final: false,
  capacityUnits: 1,
});
const completed = (at: string, durationMs: number): Transition => ({
  ...base,
  at,
  type: 'completed',
  attempt: 1,
  durationMs,
  capacityUnits: 2,
  dynamoCalls: 2,
  dynamoMs: 1,
  result: { userId: 'u', version: 1 } as never,
});

describe('the per-minute series', () => {
  const t0 = Date.parse('2026-12-06T10:00:00.000Z');
  const at = (minute: number, second = 0) => new Date(t0 + minute * 60_000 + second * 1000).toISOString();

  it("adds two workers' counts per minute, with a retention, and reads them back summed", async () => {
    // Arrange: two workers, each with its own lifecycle, writing the same minutes.
    const now = () => t0 + 2 * 60_000 + 30_000;
    const a = transitions();
    const b = transitions();
    const depth = [{ shard: 0, count: async () => 7 }];
    const one = new MinuteSeriesRecorder(redis, keys, { now, depth });
    // The second worker does not watch the shard: the depth is not its to sample.
    const two = new MinuteSeriesRecorder(redis, keys, { now, depth: [{ shard: 0, count: async () => undefined }] });
    one.observe(a);
    two.observe(b);

    // Act
    for (let i = 0; i < 9; i++) a.emit(completed(at(0, i), 10));
    a.emit(completed(at(0, 30), 400));
    b.emit(failed(at(0, 40), 20));
    b.emit({
      ...base,
      at: at(1),
      type: 'put-back',
      attempt: 1,
      delayMs: 5,
      cause: 'throttled',
      reason: 'x',
      capacityUnits: 0,
    });
    b.emit({ ...base, at: at(1), type: 'dead-lettered', reason: 'poison', attempts: 1 });
    one.dynamoCall({ command: 'PutItemCommand', durationMs: 3, capacityUnits: 1.5, throttledRequests: 0 });
    two.dynamoCall({ command: 'PutItemCommand', durationMs: 3, capacityUnits: 2, throttledRequests: 3 });
    await Promise.all([one.flush(), two.flush()]);
    // A second flush with nothing new writes nothing but the depth sample.
    await one.flush();
    const series = await readMinuteSeries(redis, [keys], 3, now());

    // Assert
    expect(series.minutes).toEqual([at(0), at(1), at(2)]);
    expect(series.failedAttempts).toEqual([1, 0, 0]);
    expect(series.putBack).toEqual([0, 1, 0]);
    expect(series.deadLettered).toEqual([0, 1, 0]);
    expect(series.capacityUnits).toEqual([0, 0, 3.5]);
    expect(series.throttled).toEqual([0, 0, 3]);
    expect(series.depth).toEqual([null, null, 7]);
    // 11 attempts: 9 of 10 ms, one of 20, one of 400 (bins a quarter power of two wide).
    expect(series.p50Ms[0]).toBeGreaterThanOrEqual(10);
    expect(series.p50Ms[0]).toBeLessThan(12);
    expect(series.p95Ms[0]).toBeGreaterThanOrEqual(400);
    expect(series.p95Ms[0]).toBeLessThan(480);
    expect(series.p50Ms.slice(1)).toEqual([null, null]);
    const ttl = await redis.ttl(keys.minuteSeries(Math.floor(t0 / 60_000)));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(SERIES_RETENTION_SECONDS);
    await one.close();
    await two.close();
  });

  it('keeps flushing after a flush that failed', async () => {
    // Arrange: a Redis whose first write fails.
    let calls = 0;
    const errors: unknown[] = [];
    const flaky = {
      pipeline: () => {
        const ops = redis.pipeline();
        const exec = ops.exec.bind(ops);
        ops.exec = () => (++calls === 1 ? Promise.reject(new Error('connection lost')) : exec());
        return ops;
      },
    } as unknown as Redis;
    const recorder = new MinuteSeriesRecorder(flaky, keys, {
      now: () => t0 + 10 * 60_000,
      onError: (e) => errors.push(e),
    });

    // Act
    recorder.add('failed', 1);
    await expect(recorder.flush()).rejects.toThrow('connection lost');
    recorder.add('failed', 2);
    await recorder.flush();
    await recorder.close();

    // Assert: the first minute's count is lost, the second's written.
    const series = await readMinuteSeries(redis, [keys], 1, t0 + 10 * 60_000);
    expect(series.failedAttempts).toEqual([2]);
  });

  it('takes quantiles from the histogram', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([[0, 3]], 0.95)).toBe(1);
    expect(
      quantile(
        [
          [4, 1],
          [8, 1],
          [12, 2],
        ],
        0.5,
      ),
    ).toBe(4);
  });
});

describe("BullMQ's own per-minute metrics", () => {
  it('line up on the same minutes as the series', async () => {
    // Arrange: a worker with metrics on, on a queue of this file's prefix.
    const name = `metrics-${randomUUID().slice(0, 8)}`;
    const queue = new Queue(name, { connection: redis, prefix: keys.prefix });
    const blocking = redis.duplicate();
    const worker = new Worker(name, async () => 'ok', {
      connection: blocking,
      prefix: keys.prefix,
      metrics: { maxDataPoints: 1440 },
    });
    try {
      // Act
      await queue.addBulk([1, 2, 3].map((n) => ({ name: 'n', data: { n } })));
      await waitFor('3 completed', async () => (await queue.getJobCounts('completed')).completed === 3);
      const metrics = await queue.getMetrics('completed', 0, 60);
      const aligned = alignBullMetrics(metrics, 60, Date.now());

      // Assert: every completion in the window (the minute may have turned between them).
      expect(aligned).toHaveLength(60);
      expect(aligned.reduce((a, b) => a + b, 0)).toBe(3);
      expect(alignBullMetrics(metrics, 60, Date.now() + 2 * 3600_000).reduce((a, b) => a + b, 0)).toBe(0);
    } finally {
      await worker.close();
      await queue.close();
      blocking.disconnect();
    }
  });
});
