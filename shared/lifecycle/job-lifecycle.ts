// The one owner of a job's life: every transition (enqueued, attempt started, attempt failed,
// put back, completed, settled as completed, dead-lettered, redriven, purged, recovered) goes through
// this facade, the same way for every caller. Each transition's steps live in their own module
// (transitions/); each emits one Transition (transition.ts) that history, logs, traces and metrics
// subscribe to.
//
// DynamoDB decides each job's outcome (shared/store JobRecordStore): one conditional write per
// generation, which a delivery's completion and a dead-letter move contend for; whoever loses
// follows it. A write job's move first bars the job from its users (effect-bars.ts), so a stale
// delivery can never land the effect of a job decided dead-lettered. Redis follows the decision.
//
// The per-job-id rule: a transition that changes a job we do not hold through BullMQ's own lock
// (the dead-letter move, redrive, purge, recovery) runs under that job id's transition lock,
// re-reads the job inside it, and acts only on the instance it read (identified by its id *and*
// its timestamp; a redriven instance always gets a later timestamp), and each of its Redis writes
// checks the lock's token in the same step. A delivery's completion is decided in DynamoDB; in
// Redis, a delivery that lost BullMQ's lock cannot acknowledge the job (BullMQ checks its token).
import type { Job } from 'bullmq';
import type { JobRecord } from '../store/types.js';
import { tracing } from '../telemetry/tracing.js';
import type { DeadLetterData } from './dead-letter.js';
import type { EffectCheck } from './effect-bars.js';
import type { PutBackCause } from './history-entry.js';
import type { LedgerJob } from './ledger.js';
import type {
  JobRef,
  LostReason,
  OperatorCheck,
  OperatorOutcome,
  SettleOutcome,
  Stamp,
  Transition,
} from './transition.js';
import { LifecycleCore } from './transitions/core.js';
import * as delivery from './transitions/delivery.js';
import { enqueue, type RestoredAs, recoverUncommitted, restoreAccepted } from './transitions/enqueue.js';
import { settle } from './transitions/move.js';
import { purge } from './transitions/purge.js';
import { finishInterruptedRedrives, redrive } from './transitions/redrive.js';

export type { EffectCheck } from './effect-bars.js';
export {
  deadLetteredGeneration,
  JobBusyError,
  type LostReason,
  type OperatorCheck,
  type OperatorOutcome,
  type SettleOutcome,
  type Transition,
  type TransitionStep,
  type TransitionType,
} from './transition.js';
export type { JobLifecycleDeps } from './transitions/core.js';
export { REDRIVE_HOLD_MS } from './transitions/redrive.js';

type Details<T extends Transition['type']> = Omit<
  Extract<Transition, { type: T }>,
  keyof JobRef | keyof Stamp | 'type'
>;

export class JobLifecycle extends LifecycleCore {
  // ---- producer side ----------------------------------------------------------------------

  /**
   * Ledger first (a write-ahead record with the jobs, and the previous record's commit mark), then
   * DynamoDB's acceptance, then addBulk; this record's commit mark rides with the next record (or
   * `commitPending`). A failure leaves the record uncommitted; the same jobs are retried (same
   * ids: a repeated add is a no-op).
   */
  enqueue(jobs: readonly LedgerJob[], onRecorded: () => void = () => undefined): Promise<void> {
    // The enqueue span is the parent BullMQ's addBulk span (and so every job of the bulk) hangs under.
    return tracing().span('enqueue', { kind: 'producer' }, () => enqueue(this, jobs, onRecorded));
  }

  /** Writes the last enqueue's deferred commit mark (a producer that stops; see `enqueue`). */
  commitPending(): Promise<void> {
    return this.deps.ledger.commitPending();
  }

  /** Re-adds what a producer killed half-way through its last tick left out of Redis. */
  recover(): Promise<number> {
    return recoverUncommitted(this);
  }

  /**
   * `djq recover`: puts back what the job's record says now (the job if undecided, its DLQ entry if
   * dead-lettered), unless a queue holds it.
   */
  restoreAccepted(job: LedgerJob, deadLetterOf: (record: JobRecord) => Promise<DeadLetterData>): Promise<RestoredAs> {
    return restoreAccepted(this, job, deadLetterOf);
  }

  // ---- worker side: one delivery ----------------------------------------------------------

  attemptStarted(job: Job): number {
    return delivery.attemptStarted(this, job);
  }

  /** `token`: the delivery's BullMQ lock token (its line is written only while it holds the job). */
  attemptFailed(job: Job, failure: Details<'attempt-failed'>, token?: string): Promise<void> {
    return delivery.attemptFailed(this, job, failure, token ?? job.token);
  }

  putBack(
    job: Job,
    token: string,
    details: { attempt: number; delayMs: number; cause: PutBackCause; reason: string; capacityUnits: number },
  ): Promise<void> {
    return delivery.putBack(this, job, token, details);
  }

  /** Decided in DynamoDB before BullMQ acknowledges; false when the job was decided otherwise. */
  completed(job: Job, details: Details<'completed'>): Promise<boolean> {
    return delivery.completed(this, job, details);
  }

  /** A delivery that lost the decision: stale (ends quietly) or still holding the job (fails it, uncounted). */
  lostDecision(
    job: Job,
    token: string | undefined,
    details: { attempt: number; reason: LostReason },
  ): Promise<'stale' | 'current'> {
    return delivery.lostDecision(this, job, token, details);
  }

  // ---- worker side: a job that failed for good --------------------------------------------

  /**
   * Settles one job of the failed set as DynamoDB decides it: the outcome that stands, else
   * dead-lettered, or completed if `barEffect` (which bars the job from its users first) finds its
   * effect landed. `job` is the instance the caller read (a failed listener, a sweep's page, maybe
   * stale): if the job id now holds another instance or state, Redis is left alone ('gone').
   */
  settleFailed(job: Job, barEffect: (generation: number) => Promise<EffectCheck>): Promise<SettleOutcome> {
    // In the job's own trace, wherever it runs (the failed listener, a sweep in another worker).
    return tracing().span(
      'dead-letter move',
      {
        parentMetadata: job.opts.telemetry?.metadata,
        attributes: { 'djq.job.id': String(job.id), 'djq.job.op': job.name },
      },
      async (span) => {
        const outcome = await settle(this, job, barEffect);
        if (outcome === 'gone') span.setAttributes({ 'djq.job.outcome': 'gone' });
        return outcome;
      },
    );
  }

  /** Finishes redrives whose process died half-way (run by the sweep). */
  finishInterruptedRedrives(): Promise<number> {
    return finishInterruptedRedrives(this);
  }

  // ---- operator side ------------------------------------------------------------------------

  /** Puts a dead-lettered job back under its own job id, as its next generation. */
  redrive(jobId: string, check: OperatorCheck = {}): Promise<OperatorOutcome> {
    // A new trace for the job's new life (its attempts hang under it), linked to the dead-lettered one.
    return tracing().span('redrive', { root: true, attributes: { 'djq.job.id': jobId } }, (span) =>
      redrive(this, jobId, (metadata) => span.link(metadata), check),
    );
  }

  /** Deletes a dead-lettered job for good. */
  purge(jobId: string, check: OperatorCheck = {}): Promise<OperatorOutcome> {
    return purge(this, jobId, check);
  }
}
