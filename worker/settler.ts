// The worker's side of a job that failed for good: the failed-event listener settles it at once,
// and a periodic sweep of the failed set (a page at a time) catches what a crashed worker left,
// plus redrives that died half-way. Settling itself is JobLifecycle.settleFailed (one transition
// under the job's lock); what this module adds is the DynamoDB question: did the effect land?
import type { Job } from 'bullmq';
import { parseJob, writeTargets } from '../shared/domain/payload.js';
import type { EffectCheck, JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import type { Queues } from '../shared/lifecycle/queues.js';
import type { Logger } from '../shared/runtime/logger.js';
import { retryTransient } from '../shared/runtime/retry.js';
import type { UserCommands } from './user-commands.js';

/** Failed jobs read per sweep pass: a pass stays cheap even when an incident left many waiting. */
const SWEEP_PAGE = 1000;

/**
 * How long after a stalled job's move the sweep still looks for its effect: a blocked delivery
 * that wakes up finishes its DynamoDB calls within their deadlines (DYNAMODB_*_TIMEOUT_MS), well
 * inside this.
 */
const STALLED_RECHECK_MS = 10 * 60 * 1000;

export class Settler {
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly deps: { queues: Queues; lifecycle: JobLifecycle; commands: UserCommands; logger: Logger },
  ) {}

  /**
   * Whether a write job's effect landed, user by user. Nothing to repair: an effect lands by moving
   * the user's head, which is the projection row, so the projection shows whatever landed.
   */
  async checkEffect(job: Pick<Job, 'id' | 'name' | 'data'>): Promise<EffectCheck> {
    let targets: string[];
    try {
      targets = writeTargets(parseJob(job.name, job.data));
    } catch {
      return { applied: false, landed: [], missing: [] }; // poison: nothing can have been applied
    }
    if (targets.length === 0) return { applied: false, landed: [], missing: [] };
    const { commands } = this.deps;
    // The same DynamoDB trouble that failed the job may hit this check: each call is retried briefly.
    const landed = await Promise.all(
      targets.map((id) => retryTransient(() => commands.hasApplied(String(job.id), id))),
    );
    return {
      applied: landed.every(Boolean),
      landed: targets.filter((_, i) => landed[i]),
      missing: targets.filter((_, i) => !landed[i]),
    };
  }

  /** Settles one job read from the failed set (or handed over by the failed listener). */
  settle(job: Job) {
    return this.deps.lifecycle.settleFailed(job, () => this.checkEffect(job));
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

  /** One pass: interrupted redrives first, then a page of the failed set. Never runs twice at once. */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepOnce().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweepOnce(): Promise<number> {
    const { queues, lifecycle, logger } = this.deps;
    let settled = 0;
    try {
      settled += await lifecycle.finishInterruptedRedrives();
      settled += await lifecycle.recheckStalledDeadLetters((job) => this.checkEffect(job), STALLED_RECHECK_MS);
      // The page may go stale while we work through it: settleFailed re-reads each job under its lock.
      for (const job of await queues.operations.getFailed(0, SWEEP_PAGE - 1)) {
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
