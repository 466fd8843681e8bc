// The producer's transitions, and putting back what Redis lost: enqueue (ledger, DynamoDB's
// acceptance, Redis), the producer's recovery of its last uncommitted tick, and `djq recover`'s
// re-adds of accepted jobs and lost DLQ entries.
import { retryTransient } from '../../runtime/retry.js';
import type { JobRecord } from '../../store/types.js';
import type { DeadLetterData } from '../dead-letter.js';
import type { LedgerJob } from '../ledger.js';
import { type Fence, TransitionBusyError } from '../transition-lock.js';
import type { LifecycleCore } from './core.js';

/** What `restoreAccepted` put back: the job, its DLQ entry, or nothing (in Redis, or decided otherwise). */
export type RestoredAs = 'job' | 'dead-letter' | 'present' | 'decided';

export async function enqueue(core: LifecycleCore, jobs: readonly LedgerJob[], onRecorded: () => void) {
  const { ledger, records } = core.deps;
  // The ledger's write-ahead record first (a producer that dies from here on re-accepts and
  // re-adds its uncommitted record at restart), then DynamoDB's acceptance (what `djq recover`
  // re-enqueues from if Redis loses the job), then Redis. The record carries the previous tick's
  // commit mark; this tick's is deferred to the next record (or the producer's stop): until then a
  // restarted producer rereads this record and finds every job in Redis or decided (re-adds none).
  const record = await ledger.recordEnqueued(jobs);
  await records.accept(jobs);
  onRecorded();
  await core.probe('enqueue:recorded', record);
  await core.addBulk(jobs);
  await core.probe('enqueue:added', record);
  ledger.commitLater(record);
  core.emit({ type: 'enqueued', jobs });
}

/**
 * Re-adds what a producer killed between its ledger write and its addBulk left out of Redis: a
 * job of the last, uncommitted record that is in neither queue and has no outcome. Each under its
 * lock, so a purge or redrive of the same id is never undone. A record whose addBulk succeeded
 * (its commit mark was still deferred, see `enqueue`) re-adds nothing: every job is in Redis or
 * decided.
 */
export async function recoverUncommitted(core: LifecycleCore): Promise<number> {
  const { ledger, records } = core.deps;
  const last = await ledger.uncommitted();
  if (!last) return 0;
  const recovered: LedgerJob[] = [];
  for (const job of last.jobs) {
    await core.locked(job.id, async (fence) => {
      // A job in Redis was accepted first (enqueue's order): not accepted again, which would move
      // its acceptance time (and its place in the job indexes) to now, after its outcome maybe.
      if (await core.heldInRedis(job.id)) return;
      // A job that lived and ended (completed, dead-lettered, purged) has its outcome in DynamoDB;
      // one redriven and running is in Redis (above).
      const record = await retryTransient(() => records.get(job.id));
      if (record?.outcome) return;
      // The producer may have died before DynamoDB accepted it.
      if (!record?.accepted) await records.accept([job]);
      await fence();
      await core.addBulk([job]);
      recovered.push(job);
    });
  }
  await ledger.markCommitted(last.recordId);
  if (recovered.length > 0) core.emit({ type: 'recovered', jobs: recovered });
  return recovered.length;
}

/**
 * `djq recover`'s one step for an accepted job Redis does not hold: under its lock, what its record
 * says *now* (not what recovery's scan read, maybe long before: a move of an instance from before
 * the loss may have decided it dead-lettered since, a redrive may have reopened it) is put back:
 * the job if its generation is undecided, its DLQ entry (`deadLetterOf` the record read) if it is
 * dead-lettered, nothing if it completed or was purged.
 *
 * `deadLetterOf` reads the job's whole history from DynamoDB (every page, with the SDK's retries):
 * it runs outside the lock, which a slow read would outlive (its fence would then stop the whole
 * recovery), for the record the lock read; the entry is added only if the record is still that one
 * when the lock is held again.
 */
export async function restoreAccepted(
  core: LifecycleCore,
  job: LedgerJob,
  deadLetterOf: (record: JobRecord) => Promise<DeadLetterData>,
): Promise<RestoredAs> {
  let built: { of: string; data: DeadLetterData } | undefined;
  for (let round = 0; ; round++) {
    const step = await core.locked(job.id, async (fence): Promise<RestoredAs | JobRecord> => {
      if (await core.heldInRedis(job.id)) return 'present';
      const record = await retryTransient(() => core.deps.records.get(job.id));
      if (record?.outcome === undefined) {
        await addRestored(core, job, record, fence);
        return 'job';
      }
      if (record.outcome !== 'dead-lettered') return 'decided';
      if (built?.of !== versionOf(record)) return record;
      await fence();
      await core.deps.queues.deadLetter.add(built.data.name, built.data, { jobId: job.id });
      return 'dead-letter';
    });
    if (typeof step === 'string') return step;
    // Only a redrive or a purge of an entry another recovery restored changes a dead-lettered record.
    if (round >= RESTORE_ROUNDS)
      throw new TransitionBusyError(`job ${job.id} kept changing while djq recover read its history; run it again`);
    built = { of: versionOf(step), data: await deadLetterOf(step) };
  }
}

/** How many times `restoreAccepted` reads a dead-lettered job's history again after its record changed. */
const RESTORE_ROUNDS = 3;

/** A record's generation and the number of its marks: any decision, redrive or purge changes it. */
const versionOf = (record: JobRecord) => `${record.gen}:${record.marks.length}`;

async function addRestored(core: LifecycleCore, job: LedgerJob, record: JobRecord | undefined, fence: Fence) {
  // Never stamped before its generation's start (recorded by another host's clock, maybe ahead
  // of this one's): a move skips an instance older than that as an earlier generation's.
  const timestamp = Math.max(Date.now(), record?.genStartedAt ?? 0);
  await fence();
  await core.deps.queues.operations.add(job.name, job.data, { ...core.deps.jobOptions, jobId: job.id, timestamp });
  core.emit({ type: 'recovered', jobs: [job] });
}
