// The dead-letter queue: jobs that failed for good, with their original payload, jobId, every
// attempt's error and the final reason. Moving is idempotent (the DLQ job has the original jobId),
// so a worker that dies half-way through is finished by the next sweep of the failed set.
import type { Job } from 'bullmq';
import type { HistoryRecorder } from './history.js';
import type { Ledger } from './ledger.js';
import type { Queues } from './queues.js';

export interface AttemptRecord {
  attempt: number;
  errorClass: string;
  message: string;
  retryable: boolean;
  at: string;
}

export interface DeadLetterData {
  originalJobId: string;
  name: string;
  payload: unknown;
  reason: string;
  attempts: AttemptRecord[];
  attemptsMade: number;
  enqueuedAt: string;
  deadLetteredAt: string;
  redrives: number;
}

export interface DeadLetterEntry extends DeadLetterData {
  jobId: string;
}

const ATTEMPT_LOG_TAG = 'attempt-failed ';

/** One line per failed attempt in the job's own log: Bull Board shows it, and the DLQ collects it. */
export function attemptLogLine(record: AttemptRecord): string {
  return `${ATTEMPT_LOG_TAG}${JSON.stringify(record)}`;
}

function parseAttemptLogs(lines: readonly string[]): AttemptRecord[] {
  return lines
    .filter((l) => l.startsWith(ATTEMPT_LOG_TAG))
    .map((l) => JSON.parse(l.slice(ATTEMPT_LOG_TAG.length)) as AttemptRecord);
}

export interface DeadLettersOptions {
  queues: Queues;
  ledger: Ledger;
  history?: HistoryRecorder;
  workerId?: string;
  /**
   * Asked before a job is dead-lettered: a job whose effect did land (say it stalled after its
   * event was appended) is recorded as completed instead. Returns true if it was.
   */
  settleApplied?: (job: Job) => Promise<boolean>;
  /** Job options for redriven jobs (attempts, backoff, retention). */
  redriveOptions?: import('bullmq').JobsOptions;
}

export class DeadLetters {
  constructor(private readonly options: DeadLettersOptions) {}

  /** Moves one job that failed for good. Safe to repeat at any point. */
  async moveFailedJob(job: Job): Promise<'dead-lettered' | 'completed'> {
    const { queues, ledger, history } = this.options;
    const jobId = String(job.id);
    // Already in the DLQ: an earlier move decided, and a repeat (the sweep after a crash) must not
    // decide again the other way.
    const alreadyDead = Boolean(await queues.deadLetter.getJob(jobId));
    if (!alreadyDead && this.options.settleApplied && (await this.options.settleApplied(job))) {
      await ledger.recordOutcome(jobId, 'completed');
      await removeQuietly(queues, job);
      return 'completed';
    }
    if (!alreadyDead) {
      const { logs } = await queues.operations.getJobLogs(jobId, 0, -1, true);
      const attempts = parseAttemptLogs(logs);
      const reason = job.failedReason || attempts.at(-1)?.message || 'unknown';
      // A job that failed without reaching our processor's catch (e.g. stalled too often) has no log line for it.
      if (attempts.length < job.attemptsMade && job.failedReason) {
        attempts.push({
          attempt: job.attemptsMade,
          errorClass: 'Stalled',
          message: job.failedReason,
          retryable: false,
          at: new Date(job.finishedOn ?? Date.now()).toISOString(),
        });
      }
      const data: DeadLetterData = {
        originalJobId: jobId,
        name: job.name,
        payload: job.data,
        reason,
        attempts,
        attemptsMade: attempts.length,
        enqueuedAt: new Date(job.timestamp).toISOString(),
        deadLetteredAt: new Date().toISOString(),
        redrives: countRedrives(logs),
      };
      await queues.deadLetter.add(job.name, data, { jobId });
      history?.record({
        type: 'dead-lettered',
        jobId,
        op: job.name,
        at: data.deadLetteredAt,
        reason,
        attempts: data.attemptsMade,
        ...(this.options.workerId ? { workerId: this.options.workerId } : {}),
      });
    }
    await ledger.recordOutcome(jobId, 'dead-lettered');
    await removeQuietly(queues, job);
    return 'dead-lettered';
  }

  /**
   * One pass over the failed set: catches what a crashed worker left between failure and DLQ. A job
   * that cannot be moved now (DynamoDB throttled, say) is left for the next pass.
   */
  async sweep(onError?: (jobId: string, error: unknown) => void): Promise<number> {
    // A page per pass keeps a pass cheap even when DynamoDB trouble has left many jobs waiting.
    const failed = await this.options.queues.operations.getFailed(0, 999);
    let moved = 0;
    for (const job of failed) {
      try {
        await this.moveFailedJob(job);
        moved++;
      } catch (error) {
        onError?.(String(job.id), error);
      }
    }
    return moved;
  }

  async list(filter: { reason?: string } = {}): Promise<DeadLetterEntry[]> {
    const jobs = await this.options.queues.deadLetter.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1, true);
    return jobs
      .filter((j) => j?.data)
      .map((j) => ({ jobId: String(j.id), ...(j.data as DeadLetterData) }))
      .filter((e) => !filter.reason || e.reason.toLowerCase().includes(filter.reason.toLowerCase()));
  }

  async show(jobId: string): Promise<DeadLetterEntry | undefined> {
    const job = await this.options.queues.deadLetter.getJob(jobId);
    return job ? { jobId, ...(job.data as DeadLetterData) } : undefined;
  }

  /**
   * Puts dead-lettered jobs back on the operations queue under their original jobId (the
   * idempotency key), so a job whose effect had in fact landed does not apply twice. Earlier
   * attempts are copied into the new job's log, so a second dead-lettering keeps them all.
   */
  async redrive(jobIds: readonly string[]): Promise<string[]> {
    const { queues, ledger, history } = this.options;
    const redriven: string[] = [];
    for (const jobId of jobIds) {
      const entry = await this.show(jobId);
      if (!entry) continue;
      // The old job may linger in the operations queue (failed set): a jobId that exists blocks add.
      await (await queues.operations.getJob(jobId))?.remove();
      // Held back as delayed until its DLQ entry is gone: a job that failed again before then would
      // find the old entry, be taken as already moved, and vanish with it. If we die in between, the
      // delay still releases it.
      const job = await queues.operations.add(entry.name, entry.payload, {
        ...this.options.redriveOptions,
        jobId,
        delay: REDRIVE_HOLD_MS,
      });
      for (const a of entry.attempts) await job.log(attemptLogLine(a));
      for (let i = 0; i <= entry.redrives; i++) await job.log(REDRIVE_LOG_LINE);
      await queues.deadLetter.remove(jobId);
      // Recorded once the DLQ entry is gone: the ledger never says "redriven" for a job still in the DLQ.
      await ledger.recordOutcome(jobId, 'redriven');
      history?.record({ type: 'redriven', jobId, op: entry.name, at: new Date().toISOString() });
      await job.promote();
      redriven.push(jobId);
    }
    return redriven;
  }

  async purge(jobIds: readonly string[]): Promise<string[]> {
    const purged: string[] = [];
    for (const jobId of jobIds) {
      if ((await this.options.queues.deadLetter.remove(jobId)) !== 1) continue;
      // Recorded, so the checker counts it as the operator's decision, not as a lost job.
      await this.options.ledger.recordOutcome(jobId, 'purged');
      purged.push(jobId);
    }
    return purged;
  }
}

const REDRIVE_LOG_LINE = 'redriven from the dead-letter queue';
/** How long a redriven job waits if the redrive dies before releasing it. */
const REDRIVE_HOLD_MS = 30_000;

function countRedrives(logs: readonly string[]): number {
  return logs.filter((l) => l === REDRIVE_LOG_LINE).length;
}

/** The worker's failed-event handler and the sweep may move the same job: the second remove finds nothing. */
async function removeQuietly(queues: Queues, job: Job): Promise<void> {
  try {
    await job.remove();
  } catch (error) {
    if (await queues.operations.getJob(String(job.id))) throw error;
  }
}
