// djq recover: rebuilds Redis, a cache of work, from DynamoDB's job records. Every accepted job
// whose generation has no outcome and that no Redis queue holds is re-enqueued under its own id;
// every job decided dead-lettered whose DLQ entry is gone gets it back (with the attempts its
// history kept). A job that completed, was dead-lettered or purged is never re-enqueued. Then each
// shard's Redis gets the table's epoch again, unless it lost its data while the recovery ran (a
// mark written as it began is gone). Safe to run while workers run, and to run twice.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AttemptRecord, DeadLetterData } from '../lifecycle/dead-letter.js';
import type { JobLifecycle } from '../lifecycle/job-lifecycle.js';
import type { LedgerJob } from '../lifecycle/ledger.js';
import { TransitionBusyError } from '../lifecycle/transition-lock.js';
import type { RestoredAs } from '../lifecycle/transitions/enqueue.js';
import type { JobHistoryStore, JobRecord } from '../store/types.js';
import type { ShardedJobSystem } from '../wiring.js';

export interface RecoverReport {
  dryRun: boolean;
  /** Job records read. */
  records: number;
  /** Accepted jobs with no outcome that no Redis queue held: re-enqueued (or would be, in a dry run). */
  reEnqueued: number;
  /** Dead-lettered jobs whose DLQ entry Redis had lost: put back. */
  deadLettersRestored: number;
  /** Undecided jobs Redis still held (nothing to do). */
  alreadyInRedis: number;
  /**
   * Shards whose Redis lost its data again while the recovery ran: what was re-added before is
   * gone, and their epoch was not restored (it still says Redis lost its data). Run it again.
   */
  lostDuringRecovery: number[];
  /**
   * Jobs another actor (a worker's move, an operator's redrive) held past the lock's wait, or that
   * kept changing: maybe still missing from Redis. Their shards' epochs were not restored. Run it again.
   */
  busy: string[];
  examples: string[];
  /** Stopped before the end (its `signal`): what it had not reached may still be missing; no epoch given back. */
  interrupted: boolean;
}

export interface RecoverOptions {
  dryRun?: boolean;
  /** Jobs re-enqueued per second at most (a large recovery must not flood the workers at once). */
  ratePerSecond?: number;
  /** Called every `progressEvery` records with the report so far. */
  onProgress?: (report: RecoverReport) => void;
  progressEvery?: number;
  /** Stops it between two records (a worker shutting down): no epoch is given back then. */
  signal?: AbortSignal;
}

export async function recoverFromRecords(
  system: ShardedJobSystem,
  options: RecoverOptions = {},
): Promise<RecoverReport> {
  const report: RecoverReport = {
    dryRun: options.dryRun === true,
    records: 0,
    reEnqueued: 0,
    deadLettersRestored: 0,
    alreadyInRedis: 0,
    lostDuringRecovery: [],
    busy: [],
    examples: [],
    interrupted: false,
  };
  // Shards with a job left busy: what Redis misses there is not all back, so no epoch for them.
  const unfinished = new Set<number>();
  // Each shard's mark first: the epoch is given back only to a Redis that kept it to the end.
  const marks = report.dryRun ? [] : await Promise.all(system.shards.map((shard) => shard.beginRecovery()));
  const pace = options.ratePerSecond ? 1000 / options.ratePerSecond : 0;
  const every = options.progressEvery ?? 1000;
  for await (const record of system.stores.jobs.scanAll()) {
    if (options.signal?.aborted) {
      report.interrupted = true;
      break;
    }
    report.records++;
    if (report.records % every === 0) options.onProgress?.({ ...report });
    const job = record.accepted;
    if (!job) continue;
    const shardIndex = system.shardOf(job);
    const shard = system.shards[shardIndex];
    if (!shard) continue;
    const { lifecycle, queues } = shard;
    const held = Boolean((await queues.operations.getJob(job.id)) || (await queues.deadLetter.getJob(job.id)));
    if (held) {
      if (!record.outcome) report.alreadyInRedis++;
      continue;
    }
    // Completed and purged are for good; undecided and dead-lettered may have changed since the scan
    // read them (decided by a move of an instance from before the loss, reopened by a redrive): a
    // recovery puts back what the record says under the job's lock, a dry run what the scan read.
    if (record.outcome === 'completed' || record.outcome === 'purged') continue;
    const restored = report.dryRun ? dryRunOf(record) : await restoreOrBusy(lifecycle, job, system.stores.history);
    if (restored === 'busy') {
      report.busy.push(job.id);
      unfinished.add(shardIndex);
    } else if (restored === 'job') {
      report.reEnqueued++;
      if (report.examples.length < 5) report.examples.push(`${job.id}: re-enqueued`);
      if (pace > 0) await sleep(pace);
    } else if (restored === 'dead-letter') report.deadLettersRestored++;
  }
  if (!report.interrupted) await restoreEpochs(system, marks, unfinished, report);
  options.onProgress?.({ ...report });
  return report;
}

/** Each shard's epoch back, where nothing was left busy; a shard whose mark is gone lost its data again. */
async function restoreEpochs(
  system: ShardedJobSystem,
  marks: readonly string[],
  unfinished: ReadonlySet<number>,
  report: RecoverReport,
): Promise<void> {
  for (const [i, shard] of system.shards.entries()) {
    const mark = marks[i]; // none on a dry run
    if (mark !== undefined && !unfinished.has(i) && (await shard.restoreEpoch(mark)) === undefined)
      report.lostDuringRecovery.push(i);
  }
}

/**
 * One job's restore, or 'busy' when another actor held its lock past the wait (or its record kept
 * changing): one job held by someone else does not stop the others.
 */
function restoreOrBusy(
  lifecycle: JobLifecycle,
  job: LedgerJob,
  history: JobHistoryStore,
): Promise<RestoredAs | 'busy'> {
  return lifecycle
    .restoreAccepted(job, (now) => deadLetterDataOf(now, history))
    .catch((error: unknown) => {
      if (error instanceof TransitionBusyError) return 'busy';
      throw error;
    });
}

/** What a recovery would put back for `record`, as the scan read it. */
function dryRunOf(record: JobRecord): RestoredAs {
  if (record.outcome === undefined) return 'job';
  return record.outcome === 'dead-lettered' ? 'dead-letter' : 'decided';
}

/** A DLQ entry rebuilt from the job's record and history (what Redis held is gone). */
async function deadLetterDataOf(record: JobRecord, history: JobHistoryStore): Promise<DeadLetterData> {
  const job = record.accepted as NonNullable<JobRecord['accepted']>;
  const decided = record.marks.findLast((m) => m.outcome === 'dead-lettered');
  const reason = decided?.reason ?? 'unknown (restored from DynamoDB after Redis lost its DLQ entry)';
  const entries = await history.list(record.jobId).catch(() => []);
  const attempts: AttemptRecord[] = entries.flatMap((e) =>
    e.type === 'attempt-failed'
      ? [{ attempt: e.attempt, errorClass: e.errorClass, message: e.message, retryable: e.retryable, at: e.at }]
      : [],
  );
  if (attempts.length === 0)
    attempts.push({ attempt: 1, errorClass: 'Unknown', message: reason, retryable: false, at: decided?.at ?? job.at });
  return {
    originalJobId: record.jobId,
    name: job.name,
    payload: job.data,
    reason,
    attempts,
    attemptsMade: attempts.length,
    enqueuedAt: job.at,
    deadLetteredAt: decided?.at ?? new Date().toISOString(),
    redrives: record.marks.filter((m) => m.outcome === 'redriven').length,
  };
}
