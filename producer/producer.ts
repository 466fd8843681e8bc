// The producer loop: every interval, draw a tick's jobs, write them to the ledger, then addBulk
// them. A tick that fails (Redis down) is kept and retried with the same jobIds, so nothing is
// lost and nothing is added twice. On start it re-adds jobs of the last ledger record that a
// killed producer wrote but never got into Redis.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobsOptions } from 'bullmq';
import type { HistoryRecorder } from '../shared/lifecycle/history.js';
import type { Ledger, LedgerJob } from '../shared/lifecycle/ledger.js';
import type { Queues } from '../shared/lifecycle/queues.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { GeneratedJob, OperationGenerator } from './generator.js';

/** BullMQ adds a bulk in one MULTI round trip; very large bulks are split. */
const ADD_BULK_CHUNK = 1000;

export interface ProducerOptions {
  queues: Queues;
  ledger: Ledger;
  generator: OperationGenerator;
  jobOptions: JobsOptions;
  intervalMs: number;
  perTick: number;
  maxOperations?: number;
  logger: Logger;
  history?: HistoryRecorder;
  onEnqueued?: (count: number) => void;
}

export class Producer {
  produced = 0;
  private pending: GeneratedJob[] | undefined;
  private readonly stopController = new AbortController();

  constructor(private readonly options: ProducerOptions) {}

  stop(): void {
    this.stopController.abort();
  }

  get done(): boolean {
    return this.options.maxOperations !== undefined && this.produced >= this.options.maxOperations;
  }

  /** Re-adds what a producer killed between its ledger write and its addBulk left out of Redis. */
  async recover(): Promise<number> {
    const { queues, ledger } = this.options;
    const last = await ledger.uncommitted();
    if (!last) return 0;
    const missing: LedgerJob[] = [];
    for (const job of last.jobs) {
      if (!(await queues.operations.getJob(job.id)) && !(await queues.deadLetter.getJob(job.id))) missing.push(job);
    }
    await this.addBulk(missing);
    await ledger.markCommitted(last.recordId);
    if (missing.length > 0) {
      this.options.logger.warn(
        { count: missing.length },
        're-added jobs a previous producer recorded but never enqueued',
      );
    }
    return missing.length;
  }

  /** One tick: returns how many jobs it enqueued (0 if it failed and will retry). */
  async tick(): Promise<number> {
    const { ledger, logger, history } = this.options;
    if (!this.pending) {
      const remaining =
        this.options.maxOperations === undefined ? Infinity : this.options.maxOperations - this.produced;
      const count = Math.min(this.options.perTick, remaining);
      if (count <= 0) return 0;
      this.pending = Array.from({ length: count }, () => this.options.generator.next());
    }
    const batch = this.pending;
    try {
      const record = await ledger.recordEnqueued(batch);
      await this.addBulk(batch);
      await ledger.markCommitted(record);
    } catch (error) {
      logger.warn(
        { err: (error as Error).message, jobs: batch.length },
        'enqueue failed; retrying the same jobs next tick',
      );
      return 0;
    }
    this.pending = undefined;
    this.produced += batch.length;
    this.options.onEnqueued?.(batch.length);
    const at = new Date().toISOString();
    for (const job of batch) history?.record({ type: 'enqueued', jobId: job.id, op: job.name, at });
    logger.info(
      { jobs: batch.length, produced: this.produced, ops: batch.map((j) => j.name) },
      `enqueued ${batch.length} job${batch.length === 1 ? '' : 's'} (${this.produced} so far)`,
    );
    return batch.length;
  }

  private async addBulk(jobs: readonly LedgerJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += ADD_BULK_CHUNK) {
      await this.options.queues.operations.addBulk(
        jobs.slice(i, i + ADD_BULK_CHUNK).map((job) => ({
          name: job.name,
          data: job.data,
          // The jobId is the idempotency key: a repeated add of a job that exists is a no-op.
          opts: { ...this.options.jobOptions, jobId: job.id },
        })),
      );
    }
  }

  /** Ticks on a fixed schedule until stopped or MAX_OPERATIONS is reached. */
  async run(): Promise<void> {
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
