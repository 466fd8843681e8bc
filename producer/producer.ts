// The producer loop: every interval, draw a tick's jobs and hand them to the job lifecycle, which
// writes the ledger, then addBulks them. A tick that fails (Redis down) keeps its jobs: if its
// ledger record was written, the next tick finishes it through recovery (re-adding only what is
// in neither queue and has no outcome); if not, the same jobs are enqueued again, same ids.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { GeneratedJob, OperationGenerator } from './generator.js';

export interface ProducerOptions {
  lifecycle: JobLifecycle;
  generator: OperationGenerator;
  intervalMs: number;
  perTick: number;
  maxOperations?: number;
  logger: Logger;
  onEnqueued?: (count: number) => void;
}

export class Producer {
  produced = 0;
  private pending: { jobs: GeneratedJob[]; recorded: boolean } | undefined;
  private readonly stopController = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly options: ProducerOptions) {}

  /** Stops ticking and resolves once the tick in flight (if any) has finished: its jobs are safe. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  get done(): boolean {
    return this.options.maxOperations !== undefined && this.produced >= this.options.maxOperations;
  }

  /** Re-adds what a producer killed between its ledger write and its addBulk left out of Redis. */
  recover(): Promise<number> {
    return this.options.lifecycle.recover();
  }

  /** One tick: returns how many jobs it enqueued (0 if it failed and will retry). */
  async tick(): Promise<number> {
    const { lifecycle, logger } = this.options;
    if (!this.pending) {
      const remaining =
        this.options.maxOperations === undefined ? Infinity : this.options.maxOperations - this.produced;
      const count = Math.min(this.options.perTick, remaining);
      if (count <= 0) return 0;
      this.pending = { jobs: Array.from({ length: count }, () => this.options.generator.next()), recorded: false };
    }
    const batch = this.pending;
    try {
      if (batch.recorded) await lifecycle.recover();
      else await lifecycle.enqueue(batch.jobs, () => (batch.recorded = true));
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
    let next = performance.now();
    while (!signal.aborted && !this.done) {
      await this.tick();
      next += this.options.intervalMs;
      const wait = next - performance.now();
      if (wait < -this.options.intervalMs) next = performance.now(); // fell far behind: don't burst to catch up
      if (!this.done) await sleep(Math.max(0, wait), undefined, { signal }).catch(() => undefined);
    }
  }
}
