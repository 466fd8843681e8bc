// Prometheus gauges of the queues, read from Redis on each scrape (so they are never stale), plus
// Node's default metrics, in a registry of the board's own.
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Queues } from '../shared/lifecycle/queues.js';

export const OPERATION_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

interface Snapshot {
  operations: Record<(typeof OPERATION_STATES)[number], number>;
  deadLetter: number;
}

export interface QueueMetricsOptions {
  /** The queues, or every shard's (the gauges then count the logical queue: all shards summed). */
  queues: Queues | readonly Queues[];
  /** A scrape must not hang while Redis is down (the board's connection waits out outages). @default 2000 */
  timeoutMs?: number;
  onError?: (error: unknown) => void;
}

export class QueueMetrics {
  readonly registry = new Registry();
  private inflight: Promise<Snapshot | undefined> | undefined;

  private readonly shards: readonly Queues[];

  constructor(private readonly options: QueueMetricsOptions) {
    this.shards = Array.isArray(options.queues) ? options.queues : [options.queues as Queues];
    const queues = this.shards[0] as Queues;
    const self = this;
    new Gauge({
      name: 'djq_queue_jobs',
      help: 'Jobs in the operations queue by state (waiting includes prioritized)',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const snapshot = await self.snapshot();
        if (!snapshot) return;
        for (const state of OPERATION_STATES)
          this.set({ queue: queues.operations.name, state }, snapshot.operations[state]);
      },
    });
    new Gauge({
      name: 'djq_dlq_jobs',
      help: 'Jobs in the dead-letter queue (failed for good, waiting for redrive or purge)',
      labelNames: ['queue'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const snapshot = await self.snapshot();
        if (snapshot) this.set({ queue: queues.deadLetter.name }, snapshot.deadLetter);
      },
    });
    new Gauge({
      name: 'djq_board_queue_scrape_success',
      help: '1 if the queue gauges of this scrape were read from Redis, 0 if Redis did not answer',
      registers: [this.registry],
      async collect() {
        this.set((await self.snapshot()) ? 1 : 0);
      },
    });
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * prom-client calls every collect() of a scrape in the same tick: they share one read of Redis,
   * so the gauges of one scrape agree with each other.
   */
  private snapshot(): Promise<Snapshot | undefined> {
    this.inflight ??= this.read().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async read(): Promise<Snapshot | undefined> {
    const { timeoutMs = 2000, onError } = this.options;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer in ${timeoutMs} ms`)), timeoutMs);
      });
      const perShard = await Promise.race([
        Promise.all(
          this.shards.map((queues) =>
            Promise.all([
              queues.operations.getJobCounts(...OPERATION_STATES, 'prioritized'),
              queues.deadLetter.getJobCounts('waiting', 'prioritized', 'delayed'),
            ]),
          ),
        ),
        timeout,
      ]);
      const sum = (pick: (shard: (typeof perShard)[number]) => Record<string, number>) => {
        const total: Record<string, number> = {};
        for (const shard of perShard)
          for (const [state, count] of Object.entries(pick(shard))) total[state] = (total[state] ?? 0) + count;
        return total;
      };
      const ops = sum(([o]) => o);
      const dlq = sum(([, d]) => d);
      const n = (v: number | undefined) => v ?? 0;
      return {
        operations: {
          waiting: n(ops.waiting) + n(ops.prioritized),
          active: n(ops.active),
          delayed: n(ops.delayed),
          failed: n(ops.failed),
          completed: n(ops.completed),
        },
        deadLetter: n(dlq.waiting) + n(dlq.prioritized) + n(dlq.delayed),
      };
    } catch (error) {
      onError?.(error);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Exposition text in Prometheus format, with its content type. */
  async metrics(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  close(): void {
    this.registry.clear();
  }
}
