// The worker's side of a job that failed for good: the failed-event listener settles it at once,
// and a periodic sweep of the failed set (a page at a time, in one elected worker of the fleet:
// elected-sweep.ts) catches what a crashed worker left, plus redrives that died half-way. Settling itself is JobLifecycle.settleFailed: DynamoDB decides
// (after the job is barred from its users, effect-bars.ts), then Redis follows under the job's lock.
import type { Job } from 'bullmq';
import type { EffectBars } from '../shared/lifecycle/effect-bars.js';
import type { JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import type { Queues } from '../shared/lifecycle/queues.js';
import type { Logger } from '../shared/runtime/logger.js';

/** Failed jobs read per sweep pass: a pass stays cheap even when an incident left many waiting. */
const SWEEP_PAGE = 1000;

export class Settler {
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly deps: { queues: Queues; lifecycle: JobLifecycle; effects: EffectBars; logger: Logger },
  ) {}

  /** Settles one job read from the failed set (or handed over by the failed listener). */
  settle(job: Job) {
    return this.deps.lifecycle.settleFailed(job, (generation) =>
      this.deps.effects.bar({ id: String(job.id), name: job.name, data: job.data }, generation),
    );
  }

  /** BullMQ's 'failed' fires on every failed attempt; only a job in the failed set has failed for good. */
  onFailed = (job: Job | undefined): void => {
    if (!job) return;
    void job
      .getState()
      .then((state) => (state === 'failed' ? this.settle(job) : undefined))
      .catch((error: unknown) =>
        this.deps.logger.warn({ err: error, jobId: job.id }, 'dead-letter move failed; the sweep will retry'),
      );
  };

  /**
   * One pass: interrupted redrives first, then a page of the failed set. Never runs twice at once.
   * `goOn` is asked before each job: a sweeper that lost its election stops there.
   */
  sweep(goOn: () => boolean = () => true): Promise<number> {
    this.sweeping ??= this.sweepOnce(goOn).finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(goOn: () => boolean): Promise<number> {
    const { queues, lifecycle, logger } = this.deps;
    let settled = 0;
    try {
      settled += await lifecycle.finishInterruptedRedrives();
      // The page may go stale while we work through it: settleFailed re-reads each job under its lock.
      for (const job of await queues.operations.getFailed(0, SWEEP_PAGE - 1)) {
        if (!goOn()) break;
        try {
          if ((await this.settle(job)) !== 'gone') settled++;
        } catch (error) {
          logger.warn({ jobId: job.id, err: (error as Error).message }, 'dead-letter move failed; next sweep retries');
        }
      }
    } catch (error) {
      logger.warn({ err: error }, 'dead-letter sweep failed; will try again');
    }
    if (settled > 0) logger.info({ settled }, 'dead-letter sweep settled failed jobs');
    return settled;
  }
}
