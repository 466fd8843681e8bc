// The producer loop: every interval, draw a tick's jobs and hand them to the job lifecycle, which
// writes the ledger, then addBulks them. A tick that fails (Redis down) keeps its jobs: if its
// ledger record was written, the next tick finishes it through recovery (re-adding only what is
// in neither queue and has no outcome); if not, the same jobs are enqueued again, same ids.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import type { Logger } from '../shared/runtime/logger.js';
import { tracing } from '../shared/telemetry/tracing.js';
import type { GeneratedJob, OperationGenerator } from './generator.js';

/** Where jobs go: one lifecycle, or the lifecycles of every shard and the rule that picks one. */
export type ProducerTarget =
  | { lifecycle: JobLifecycle }
  | { shards: readonly JobLifecycle[]; shardOf: (job: GeneratedJob) => number };

export type ProducerOptions = ProducerTarget & {
  generator: OperationGenerator;
  intervalMs: number;
  perTick: number;
  maxOperations?: number;
  logger: Logger;
  onEnqueued?: (count: number) => void;
};

/** One shard's part of a tick: its jobs, and whether its ledger record was written. */
interface PendingPart {
  lifecycle: JobLifecycle;
  jobs: GeneratedJob[];
  recorded: boolean;
  done: boolean;
}

/** How far behind its schedule the producer catches up, in one tick carrying the missed ticks' jobs. */
const CATCH_UP_MS = 5000;

export class Producer {
  produced = 0;
  private pending: { jobs: GeneratedJob[]; parts: PendingPart[] } | undefined;
  private readonly lifecycles: readonly JobLifecycle[];
  private readonly stopController = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly options: ProducerOptions) {
    this.lifecycles = 'lifecycle' in options ? [options.lifecycle] : options.shards;
  }

  /** Stops ticking and resolves once the tick in flight (if any) has finished: its jobs are safe. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
    // A tick that failed after writing its ledger record (a Redis blip) left jobs the next tick
    // would have finished: finish them now, once, so a stop does not leave them for a restart.
    for (const part of this.pending?.parts ?? []) {
      if (part.recorded && !part.done) await part.lifecycle.recover().catch(() => undefined);
    }
    await this.commitPending();
  }

  get done(): boolean {
    return this.options.maxOperations !== undefined && this.produced >= this.options.maxOperations;
  }

  /** Re-adds what a producer killed between its ledger write and its addBulk left out of Redis. */
  async recover(): Promise<number> {
    let recovered = 0;
    for (const lifecycle of this.lifecycles) recovered += await lifecycle.recover();
    return recovered;
  }

  /** A tick's jobs, split by the shard each goes to (in job order within a shard). */
  private split(jobs: GeneratedJob[]): PendingPart[] {
    const { options } = this;
    if ('lifecycle' in options) return [{ lifecycle: options.lifecycle, jobs, recorded: false, done: false }];
    const byShard = new Map<number, GeneratedJob[]>();
    for (const job of jobs) {
      const shard = options.shardOf(job);
      byShard.set(shard, [...(byShard.get(shard) ?? []), job]);
    }
    return [...byShard].map(([shard, part]) => {
      const lifecycle = options.shards[shard];
      if (!lifecycle) throw new Error(`shardOf returned ${shard}, but there are ${options.shards.length} shards`);
      return { lifecycle, jobs: part, recorded: false, done: false };
    });
  }

  /**
   * One tick: returns how many jobs it enqueued (0 if it failed and will retry). `ticks` > 1: the
   * jobs of that many ticks in one (ticks that came due while the last was in flight).
   */
  tick(ticks = 1): Promise<number> {
    // The root of the trace its jobs' attempts, DynamoDB calls and dead-letter moves hang under.
    return tracing().span('producer tick', { root: true }, async (span) => {
      const enqueued = await this.tickOnce(ticks);
      span.setAttributes({ 'djq.jobs.enqueued': enqueued });
      return enqueued;
    });
  }

  private async tickOnce(ticks: number): Promise<number> {
    const { logger } = this.options;
    if (!this.pending) {
      const remaining =
        this.options.maxOperations === undefined ? Infinity : this.options.maxOperations - this.produced;
      const count = Math.min(this.options.perTick * ticks, remaining);
      if (count <= 0) return 0;
      const jobs = Array.from({ length: count }, () => this.options.generator.next());
      this.pending = { jobs, parts: this.split(jobs) };
    }
    const batch = this.pending;
    try {
      for (const part of batch.parts) {
        if (part.done) continue;
        if (part.recorded) await part.lifecycle.recover();
        else await part.lifecycle.enqueue(part.jobs, () => (part.recorded = true));
        part.done = true;
      }
    } catch (error) {
      logger.warn(
        { err: (error as Error).message, jobs: batch.jobs.length },
        'enqueue failed; retrying the same jobs next tick',
      );
      return 0;
    }
    this.pending = undefined;
    this.produced += batch.jobs.length;
    this.options.onEnqueued?.(batch.jobs.length);
    return batch.jobs.length;
  }

  /** Ticks on a fixed schedule until stopped or MAX_OPERATIONS is reached. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  private async loop(): Promise<void> {
    const signal = this.stopController.signal;
    const { intervalMs } = this.options;
    const mostTicks = Math.max(1, Math.floor(CATCH_UP_MS / intervalMs));
    let next = performance.now();
    while (!signal.aborted && !this.done) {
      // A tick takes a DynamoDB write (the jobs' acceptance) and Redis's addBulk: when that outlasts
      // the interval, the ticks that came due meanwhile go in the next one (a group commit), so a
      // slow DynamoDB delays jobs but does not cut the rate they are offered at.
      const due = Math.min(mostTicks, 1 + Math.floor((performance.now() - next) / intervalMs));
      await this.tick(due);
      next += due * intervalMs;
      const wait = next - performance.now();
      if (wait < -CATCH_UP_MS) next = performance.now(); // fell far behind (Redis down): don't burst to catch up
      if (!this.done) await sleep(Math.max(0, wait), undefined, { signal }).catch(() => undefined);
    }
    await this.commitPending();
  }

  /** The last tick's commit mark waits for a next record that will not come: written now. */
  private async commitPending(): Promise<void> {
    // If this fails (Redis down), a restart's recovery rereads that record and re-adds nothing it
    // finds in Redis or decided.
    for (const lifecycle of this.lifecycles) await lifecycle.commitPending().catch(() => undefined);
  }
}
