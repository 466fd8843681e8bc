// The one owner of a job's life. Every transition (enqueued, attempt started, attempt failed,
// completed, dead-lettered, settled as completed, redriven, purged, recovered) happens here and
// writes its records together, the same way for every caller: the decision in DynamoDB first, then
// Redis (BullMQ state and the ledger), then the job's history, then one event that logs and metrics
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
// Redis, a delivery that lost BullMQ's lock records nothing.
import { EventEmitter } from 'node:events';
import type { Job, JobsOptions } from 'bullmq';
import type { JobResult } from '../domain/jobs.js';
import type { RedisConnection } from '../runtime/redis.js';
import { luaScript } from '../runtime/redis-scripts.js';
import { retryTransient } from '../runtime/retry.js';
import type { JobOutcome, JobRecord, JobRecordStore } from '../store/types.js';
import { tracing } from '../telemetry/tracing.js';
import {
  type AttemptRecord,
  attemptLogLine,
  buildDeadLetterData,
  type DeadLetterData,
  redriveLogLines,
} from './dead-letter.js';
import type { EffectBars, EffectCheck } from './effect-bars.js';
import type { HistoryEntry, HistoryRecorder, PutBackCause } from './history.js';
import type { QueueKeys } from './keys.js';
import type { Ledger, LedgerJob } from './ledger.js';
import type { Queues } from './queues.js';
import { type Fence, type TransitionLockOptions, withTransitionLock } from './transition-lock.js';

const REMOVE_FAILED = luaScript('djqRemoveFailedInstance', 4, new URL('./remove-failed-instance.lua', import.meta.url));

/** BullMQ adds a bulk in one MULTI round trip; very large bulks are split. */
const ADD_BULK_CHUNK = 1000;

/**
 * A redriven job waits this long unless the redrive releases it: if the redrive dies half-way, the
 * next sweep finishes it (finishInterruptedRedrives) long before the hold runs out, and the job can
 * never run while its old dead-letter entry still exists.
 */
export const REDRIVE_HOLD_MS = 24 * 60 * 60 * 1000;

interface JobRef {
  jobId: string;
  op: string;
}

/** What every transition event carries: who did it and when. */
interface Stamp {
  actor: string;
  at: string;
}

export type Transition = Stamp &
  (
    | { type: 'enqueued'; jobs: readonly LedgerJob[] }
    | { type: 'recovered'; jobs: readonly LedgerJob[] }
    | (JobRef & { type: 'attempt-started'; attempt: number })
    | (JobRef & {
        type: 'attempt-failed';
        attempt: number;
        maxAttempts: number;
        durationMs: number;
        errorClass: string;
        kind: string;
        message: string;
        retryable: boolean;
        /** No attempt follows: the job goes to the failed set, then the DLQ (or is settled). */
        final: boolean;
        nextDelayMs?: number;
        /** What the failed attempt consumed before it failed (spent for nothing). */
        capacityUnits: number;
      })
    | (JobRef & {
        type: 'completed';
        attempt: number;
        durationMs: number;
        capacityUnits: number;
        dynamoCalls: number;
        result: JobResult;
      })
    /** Not a failed attempt: the job went back to the queue (contended, throttled) without using an attempt. */
    | (JobRef & {
        type: 'put-back';
        attempt: number;
        delayMs: number;
        cause: PutBackCause;
        reason: string;
        /** What the attempt consumed before it was put back (spent for nothing). */
        capacityUnits: number;
      })
    /** A delivery finished its work after losing BullMQ's lock: nothing was recorded. */
    | (JobRef & { type: 'lock-lost'; attempt: number })
    /** The job failed for good but its effect had landed (e.g. it stalled after appending). */
    | (JobRef & { type: 'settled-completed'; attempts: number })
    | (JobRef & { type: 'dead-lettered'; reason: string; attempts: number; landed?: string[]; missing?: string[] })
    | (JobRef & { type: 'redriven' })
    | (JobRef & { type: 'purged' })
  );

export type TransitionType = Transition['type'];

/** Named points inside the multi-step transitions, where tests pause to drive a chosen interleaving. */
export type TransitionStep =
  | 'lock:busy'
  | 'move:locked'
  | 'move:dead-letter-added'
  | 'redrive:locked'
  | 'redrive:added'
  | 'redrive:dead-letter-removed'
  | 'redrive:released'
  | 'recheck:recorded'
  | 'purge:locked'
  | 'enqueue:recorded'
  | 'enqueue:added';

export type { EffectCheck } from './effect-bars.js';

export type SettleOutcome = 'dead-lettered' | 'completed' | 'gone';
export type OperatorOutcome = 'done' | 'not-found';

export interface JobLifecycleDeps {
  redis: RedisConnection;
  keys: QueueKeys;
  queues: Queues;
  ledger: Ledger;
  history: HistoryRecorder;
  /** Where each job's outcome is decided, and its acceptance recorded. */
  records: JobRecordStore;
  /** Bars a dead-lettered job from its users; a redrive lifts them. */
  effects: EffectBars;
  /** The options every operation job is added with (attempts, backoff, retention). */
  jobOptions: JobsOptions;
  /** Who acts: a worker id, 'producer', 'djq', 'board'. Recorded in history and logs. */
  actor: string;
  lock: TransitionLockOptions;
}

export class JobLifecycle {
  private readonly events = new EventEmitter();
  /** Test-only pause points; a no-op in production. */
  probe: (step: TransitionStep, jobId: string) => Promise<void> | void = () => undefined;

  constructor(private readonly deps: JobLifecycleDeps) {}

  get actor(): string {
    return this.deps.actor;
  }

  /** Logs, metrics and bench timing subscribe here; a listener that throws never affects a job. */
  onTransition(listener: (transition: Transition) => void): () => void {
    const safe = (t: Transition) => {
      try {
        listener(t);
      } catch {
        // Bookkeeping must never decide a job's fate.
      }
    };
    this.events.on('transition', safe);
    return () => this.events.off('transition', safe);
  }

  // ---- producer side ----------------------------------------------------------------------

  /**
   * Ledger first (a write-ahead record with the jobs), then addBulk, then the commit mark. A failure
   * leaves the record uncommitted; the same jobs are retried (same ids: a repeated add is a no-op).
   */
  enqueue(jobs: readonly LedgerJob[], onRecorded: () => void = () => undefined): Promise<void> {
    // The enqueue span is the parent BullMQ's addBulk span (and so every job of the bulk) hangs under.
    return tracing().span('enqueue', { kind: 'producer' }, () => this.enqueueRecorded(jobs, onRecorded));
  }

  private async enqueueRecorded(jobs: readonly LedgerJob[], onRecorded: () => void): Promise<void> {
    const { ledger, records } = this.deps;
    // The ledger's write-ahead record first (a producer that dies from here on re-accepts and
    // re-adds its uncommitted record at restart), then DynamoDB's acceptance (what `djq recover`
    // re-enqueues from if Redis loses the job), then Redis.
    const record = await ledger.recordEnqueued(jobs);
    await records.accept(jobs);
    onRecorded();
    await this.probe('enqueue:recorded', record);
    await this.addBulk(jobs);
    await this.probe('enqueue:added', record);
    await ledger.markCommitted(record);
    // The job's history starts at its first attempt (see attemptStarted), not here: the ledger
    // already holds the enqueue durably, and a history write per enqueued job would spend the
    // table's write capacity at the rate jobs arrive, which flow control cannot slow down.
    this.emit({ type: 'enqueued', jobs });
  }

  /**
   * Re-adds what a producer killed between its ledger write and its addBulk left out of Redis: a
   * job of the last, uncommitted record that is in neither queue and has no outcome since. Each
   * under its lock, so a purge or redrive of the same id is never undone.
   */
  async recover(): Promise<number> {
    const { ledger, queues } = this.deps;
    const last = await ledger.uncommitted();
    if (!last) return 0;
    const recovered: LedgerJob[] = [];
    // An outcome after the record means the job lived and ended (completed, purged…): leave it.
    // Read once for the whole record; under each job's lock only what was written since.
    const since = (await ledger.position()).outcomes;
    const ended = await ledger.readOutcomes(last.recordId);
    // The producer may have died before DynamoDB accepted them (idempotent if it had).
    await this.deps.records.accept(last.jobs);
    for (const job of last.jobs) {
      await this.locked(job.id, async (fence) => {
        if ((await queues.operations.getJob(job.id)) || (await queues.deadLetter.getJob(job.id))) return;
        if (ended.has(job.id) || (await ledger.readOutcomes(since)).has(job.id)) return;
        if ((await retryTransient(() => this.deps.records.get(job.id)))?.outcome) return;
        await fence();
        await this.addBulk([job]);
        recovered.push(job);
      });
    }
    await ledger.markCommitted(last.recordId);
    if (recovered.length > 0) this.emit({ type: 'recovered', jobs: recovered });
    return recovered.length;
  }

  /**
   * Re-adds an accepted job Redis lost (djq recover): under its lock, only if no queue holds it
   * and DynamoDB has not decided its generation. Its effect, if a delivery before the loss landed
   * it, is found by the next delivery (the job id is the idempotency key).
   */
  restoreJob(job: LedgerJob): Promise<'added' | 'present' | 'decided'> {
    return this.locked(job.id, async (fence) => {
      if (await this.heldInRedis(job.id)) return 'present';
      if ((await retryTransient(() => this.deps.records.get(job.id)))?.outcome) return 'decided';
      await fence();
      await this.addBulk([job]);
      this.emit({ type: 'recovered', jobs: [job] });
      return 'added';
    });
  }

  /** Puts back the DLQ entry of a job DynamoDB decided dead-lettered when Redis lost it. */
  restoreDeadLetter(jobId: string, data: DeadLetterData): Promise<'added' | 'present' | 'decided'> {
    return this.locked(jobId, async (fence) => {
      if (await this.heldInRedis(jobId)) return 'present';
      if ((await retryTransient(() => this.deps.records.get(jobId)))?.outcome !== 'dead-lettered') return 'decided';
      await fence();
      await this.deps.queues.deadLetter.add(data.name, data, { jobId });
      return 'added';
    });
  }

  private async heldInRedis(jobId: string): Promise<boolean> {
    const { queues } = this.deps;
    return Boolean((await queues.operations.getJob(jobId)) || (await queues.deadLetter.getJob(jobId)));
  }

  private async addBulk(jobs: readonly LedgerJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += ADD_BULK_CHUNK) {
      await this.deps.queues.operations.addBulk(
        jobs.slice(i, i + ADD_BULK_CHUNK).map((job) => ({
          name: job.name,
          data: job.data,
          // The jobId is the idempotency key: a repeated add of a job that exists is a no-op.
          opts: { ...this.deps.jobOptions, jobId: job.id },
        })),
      );
    }
  }

  // ---- worker side: one delivery ----------------------------------------------------------

  attemptStarted(job: Job): number {
    const attempt = job.attemptsMade + 1;
    const ref = refOf(job);
    // An instance's first start writes its 'enqueued' entry, dated when it was added, in the same
    // history item as its start and (usually) its completion: one write for the job's whole life.
    if (job.attemptsMade === 0 && job.attemptsStarted <= 1) {
      this.history({ type: 'enqueued', jobId: ref.jobId, op: ref.op, at: new Date(job.timestamp).toISOString() });
    }
    const at = now();
    this.history({ type: 'attempt-started', ...ref, attempt, at });
    this.emit({ type: 'attempt-started', ...ref, attempt }, at);
    return attempt;
  }

  /** The attempt's line in the job's own log (Bull Board shows it; the DLQ entry collects it) comes first. */
  async attemptFailed(
    job: Job,
    failure: Omit<Extract<Transition, { type: 'attempt-failed' }>, keyof JobRef | keyof Stamp | 'type'>,
  ): Promise<void> {
    const ref = refOf(job);
    const at = now();
    const record: AttemptRecord = {
      attempt: failure.attempt,
      errorClass: failure.errorClass,
      message: failure.message,
      retryable: failure.retryable,
      at,
    };
    try {
      await job.log(attemptLogLine(record));
    } finally {
      const { nextDelayMs } = failure;
      this.history({
        type: 'attempt-failed',
        ...ref,
        attempt: failure.attempt,
        at,
        errorClass: failure.errorClass,
        message: failure.message,
        retryable: failure.retryable,
        capacityUnits: failure.capacityUnits,
        ...(nextDelayMs !== undefined ? { nextDelayMs } : {}),
      });
      this.emit({ type: 'attempt-failed', ...ref, ...failure });
    }
  }

  /**
   * Puts the running job back in the queue for `delayMs` without using an attempt (BullMQ's
   * moveToDelayed with the delivery's token; the caller then throws DelayedError so BullMQ knows).
   */
  async putBack(
    job: Job,
    token: string,
    details: { attempt: number; delayMs: number; cause: PutBackCause; reason: string; capacityUnits: number },
  ): Promise<void> {
    await job.moveToDelayed(Date.now() + details.delayMs, token);
    const ref = refOf(job);
    this.history({ type: 'put-back', ...ref, ...details, at: now() });
    this.emit({ type: 'put-back', ...ref, ...details });
  }

  /**
   * Records the outcome before BullMQ acknowledges (a crash now redelivers the job, which finds its
   * effect). Returns false, recording nothing, when this delivery no longer holds the job's lock.
   */
  async completed(
    job: Job,
    token: string | undefined,
    details: Omit<Extract<Transition, { type: 'completed' }>, keyof JobRef | keyof Stamp | 'type'>,
  ): Promise<boolean> {
    const { ledger, keys, records } = this.deps;
    const ref = refOf(job);
    // DynamoDB decides: a job decided dead-lettered (or purged) meanwhile stays so, and this
    // delivery ends recording nothing (a write job's effect could not land: it was barred first).
    if ((await retryTransient(() => records.decide(ref.jobId, 'completed', this.deps.actor))).outcome !== 'completed') {
      this.emit({ type: 'lock-lost', ...ref, attempt: details.attempt });
      return false;
    }
    if (token === undefined) await ledger.recordOutcome(ref.jobId, 'completed');
    else if (!(await ledger.recordCompletedIfOwner(ref.jobId, keys.activeJobLock(ref.jobId), token))) {
      this.emit({ type: 'lock-lost', ...ref, attempt: details.attempt });
      return false;
    }
    const at = now();
    this.history({
      type: 'completed',
      ...ref,
      attempt: details.attempt,
      at,
      durationMs: details.durationMs,
      capacityUnits: details.capacityUnits,
      result: summarise(details.result),
    });
    this.emit({ type: 'completed', ...ref, ...details }, at);
    return true;
  }

  // ---- worker side: a job that failed for good --------------------------------------------

  /**
   * Settles one job of the failed set as DynamoDB decides it: the outcome that stands, else
   * dead-lettered, or completed if `barEffect` (which bars the job from its users first) finds its
   * effect landed. `job` is the instance the caller read (a failed listener, a sweep's page, maybe
   * stale): if the job id now holds another instance or state, Redis is left alone ('gone').
   * DynamoDB is asked before the lock; the lock covers Redis only.
   */
  settleFailed(job: Job, barEffect: () => Promise<EffectCheck>): Promise<SettleOutcome> {
    // In the job's own trace, wherever it runs (the failed listener, a sweep in another worker).
    return tracing().span(
      'dead-letter move',
      {
        parentMetadata: job.opts.telemetry?.metadata,
        attributes: { 'djq.job.id': String(job.id), 'djq.job.op': job.name },
      },
      async (span) => {
        const outcome = await this.settle(job, barEffect);
        if (outcome === 'gone') span.setAttributes({ 'djq.job.outcome': 'gone' });
        return outcome;
      },
    );
  }

  private async settle(job: Job, barEffect: () => Promise<EffectCheck>): Promise<SettleOutcome> {
    const jobId = String(job.id);
    const decided = await this.decideFailed(job, barEffect);
    if (!decided) return 'gone';
    const { queues, ledger } = this.deps;
    // Redis follows the decision, under the lock, on the very instance that failed.
    return this.locked(jobId, async (fence) => {
      await this.probe('move:locked', jobId);
      const current = await queues.operations.getJob(jobId);
      if (!current || current.timestamp !== job.timestamp || (await current.getState()) !== 'failed') return 'gone';
      const entry = await queues.deadLetter.getJob(jobId);
      if (entry && (await this.isInterruptedRedrive(current, entry))) {
        // The entry is from before an interrupted redrive that released this very instance.
        await this.finishRedrive(jobId, current, fence);
      }
      const ref = refOf(current);
      if (decided.outcome !== 'dead-lettered') {
        if (decided.outcome === 'completed') await ledger.recordOutcome(jobId, 'completed', fence);
        await this.removeFailed(current, fence);
        if (decided.outcome === 'purged') return 'gone';
        this.history({
          type: 'completed',
          ...ref,
          attempt: current.attemptsMade,
          at: now(),
          durationMs: 0,
          capacityUnits: 0,
          result: decided.won
            ? 'its effect had landed before it failed: settled as completed'
            : 'it was decided completed before it failed (its ack was lost): settled as completed',
        });
        this.emit({ type: 'settled-completed', ...ref, attempts: current.attemptsMade });
        return 'completed';
      }
      const { logs } = await queues.operations.getJobLogs(jobId, 0, -1, true);
      const data = buildDeadLetterData(current, logs, decided.effect);
      if (!(await queues.deadLetter.getJob(jobId))) {
        await fence();
        await queues.deadLetter.add(current.name, data, { jobId });
      }
      await this.probe('move:dead-letter-added', jobId);
      await ledger.recordOutcome(jobId, 'dead-lettered', fence);
      await this.removeFailed(current, fence);
      if (!decided.won) return 'dead-lettered'; // a repeat of a move that crashed half-way: recorded once
      this.history({
        type: 'dead-lettered',
        ...ref,
        at: data.deadLetteredAt,
        reason: data.reason,
        attempts: data.attemptsMade,
        ...(data.landed ? { landed: data.landed } : {}),
      });
      this.emit({
        type: 'dead-lettered',
        ...ref,
        reason: data.reason,
        attempts: data.attemptsMade,
        ...(data.landed ? { landed: data.landed, missing: data.missing ?? [] } : {}),
      });
      return 'dead-lettered';
    });
  }

  /**
   * The DynamoDB half of settling a failed instance: its generation's outcome if decided before (a
   * delivery recorded it completed, then lost its ack; a move that crashed half-way), else decided
   * now, after barring the job from its users. Undefined for an instance of an earlier generation
   * (a sweep's stale page): that generation was decided long ago.
   */
  private async decideFailed(
    job: Job,
    barEffect: () => Promise<EffectCheck>,
  ): Promise<{ outcome: JobOutcome; won: boolean; effect: EffectCheck } | undefined> {
    const { records, actor } = this.deps;
    const jobId = String(job.id);
    const record = await retryTransient(() => records.get(jobId));
    if (job.timestamp < (record?.genStartedAt ?? 0)) return undefined;
    if (record?.outcome) return { outcome: record.outcome, won: false, effect: await this.effectOf(record) };
    const effect = await barEffect();
    const reason = job.failedReason || 'unknown';
    const decision = await retryTransient(() =>
      records.decide(jobId, effect.applied ? 'completed' : 'dead-lettered', actor, reason),
    );
    return { outcome: decision.outcome, won: decision.won, effect };
  }

  /** A decided job's effect as its move found it (a batch's landed users are in its DLQ entry's reason). */
  private async effectOf(record: JobRecord): Promise<EffectCheck> {
    const entry = await this.deps.queues.deadLetter.getJob(record.jobId);
    const data = entry?.data as DeadLetterData | undefined;
    return { applied: false, landed: data?.landed ?? [], missing: data?.missing ?? [] };
  }

  // ---- operator side ------------------------------------------------------------------------

  /**
   * Puts a dead-lettered job back under its own job id (the idempotency key: a job whose effect had
   * in fact landed completes without a second event). Order, each step safe to die after: write the
   * intent, add the new instance held back, copy the attempts into its log, remove the DLQ entry,
   * record, release. The new instance cannot run while the old entry exists.
   */
  redrive(jobId: string): Promise<OperatorOutcome> {
    // A new trace for the job's new life (its attempts hang under it), linked to the dead-lettered one.
    return tracing().span('redrive', { root: true, attributes: { 'djq.job.id': jobId } }, (span) =>
      this.redriveLocked(jobId, (metadata) => span.link(metadata)),
    );
  }

  private async redriveLocked(
    jobId: string,
    linkOriginal: (metadata: string | undefined) => void,
  ): Promise<OperatorOutcome> {
    const { queues, keys, records, effects, actor } = this.deps;
    return this.locked(jobId, async (fence) => {
      await this.probe('redrive:locked', jobId);
      const entry = await queues.deadLetter.getJob(jobId);
      if (!entry) return 'not-found';
      linkOriginal(entry.opts.telemetry?.metadata);
      const data = entry.data as DeadLetterData;
      const record = await retryTransient(() => records.get(jobId));
      if (record?.outcome === 'completed' || record?.outcome === 'purged') return this.dropStaleEntry(jobId, fence);
      const lingering = await queues.operations.getJob(jobId);
      if (lingering) {
        const state = await lingering.getState();
        if (await this.isInterruptedRedrive(lingering, entry)) {
          await this.finishRedrive(jobId, lingering, fence); // an interrupted redrive of this entry: finish it
          return 'done';
        }
        // The dead instance the move had not removed yet; anything else means the id is alive.
        if (state !== 'failed') throw new JobBusyError(jobId, state);
      }
      const timestamp = Math.max(Date.now(), (lingering?.timestamp ?? 0) + 1, entry.timestamp + 1);
      // DynamoDB first: the dead-lettered generation closes and the next opens, or nothing changes.
      const resumed = record !== undefined && record.outcome === undefined && record.genStartedAt !== undefined;
      if (!resumed && !(await retryTransient(() => records.reopen(jobId, actor, timestamp))))
        throw new JobBusyError(jobId, 'being changed by another operator');
      // Its bars go before its next generation can run (a redrive that dies here leaves the job
      // open in DynamoDB and in the DLQ in Redis: a second redrive resumes, `djq recover` re-adds).
      await effects.unbar({ id: jobId, name: entry.name, data: data.payload });
      const startedAt = resumed ? (record?.genStartedAt ?? timestamp) : timestamp;
      if (lingering) await this.removeFailed(lingering, fence);
      await fence.write('HSET', keys.redriveIntents, jobId, String(startedAt));
      await fence();
      const job = await queues.operations.add(entry.name, data.payload, {
        ...this.deps.jobOptions,
        jobId,
        timestamp: startedAt,
        delay: REDRIVE_HOLD_MS,
      });
      for (const line of redriveLogLines(data)) await job.log(line);
      await this.probe('redrive:added', jobId);
      await this.finishRedrive(jobId, job, fence);
      return 'done';
    });
  }

  /** The second half of a redrive, also run by the sweep for a redrive that died half-way. Under the lock. */
  private async finishRedrive(jobId: string, job: Job, fence: Fence): Promise<void> {
    const { queues, keys, ledger } = this.deps;
    const at = now(); // before the job is released: its next attempt must come after this in its history
    await fence();
    await queues.deadLetter.remove(jobId);
    await this.probe('redrive:dead-letter-removed', jobId);
    // Recorded once the DLQ entry is gone: the ledger never says "redriven" for a job still in the DLQ.
    await ledger.recordOutcome(jobId, 'redriven', fence);
    if ((await job.getState()) === 'delayed') {
      await fence();
      await job.promote();
    }
    await this.probe('redrive:released', jobId);
    await fence.write('HDEL', keys.redriveIntents, jobId);
    const ref = refOf(job);
    this.history({ type: 'redriven', ...ref, at });
    this.emit({ type: 'redriven', ...ref });
  }

  /**
   * Whether `job` is the new instance of a redrive that died half-way: its intent names it, and it
   * is still held or the DLQ entry predates it. An intent left by a redrive that died after
   * releasing its job (before clearing the intent) names an instance that has run since: finishing
   * that "redrive" again would record `redriven` over its outcome, or remove the DLQ entry of its
   * own later move.
   */
  private async isInterruptedRedrive(job: Job, entry: Job | undefined): Promise<boolean> {
    const { keys, redis } = this.deps;
    if ((await redis.hget(keys.redriveIntents, String(job.id))) !== String(job.timestamp)) return false;
    if (entry && entry.timestamp < job.timestamp) return true;
    return (await job.getState()) === 'delayed' && !job.processedOn;
  }

  /** Finishes redrives whose process died half-way (run by every worker's sweep). */
  async finishInterruptedRedrives(): Promise<number> {
    const { queues, keys, redis } = this.deps;
    let finished = 0;
    for (const [jobId] of Object.entries(await redis.hgetall(keys.redriveIntents))) {
      await this.locked(jobId, async (fence) => {
        const intent = await redis.hget(keys.redriveIntents, jobId); // re-read inside the lock
        if (intent === null) return;
        const job = await queues.operations.getJob(jobId);
        if (job && (await this.isInterruptedRedrive(job, await queues.deadLetter.getJob(jobId)))) {
          await this.finishRedrive(jobId, job, fence);
          finished++;
        } else {
          // The redrive died before adding its job (the entry stays in the DLQ, as if never
          // redriven), or after releasing it (only the intent was left): nothing more to do.
          await fence.write('HDEL', keys.redriveIntents, jobId);
        }
      });
    }
    return finished;
  }

  /**
   * Deletes a dead-lettered job for good. The ledger's `purged` comes first (so the checker never
   * sees the job in neither place without a reason); the dead instance, if a crashed move left it in
   * the failed set, goes too, or the sweep would dead-letter it again.
   */
  async purge(jobId: string): Promise<OperatorOutcome> {
    const { queues, keys, redis, records, actor } = this.deps;
    return this.locked(jobId, async (fence) => {
      await this.probe('purge:locked', jobId);
      const entry = await queues.deadLetter.getJob(jobId);
      if (!entry) return 'not-found';
      if ((await retryTransient(() => records.get(jobId)))?.outcome === 'completed')
        return this.dropStaleEntry(jobId, fence);
      const lingering = await queues.operations.getJob(jobId);
      const intent = await redis.hget(keys.redriveIntents, jobId);
      if (lingering) {
        const state = await lingering.getState();
        const heldRedrive = state === 'delayed' && intent === String(lingering.timestamp);
        if (state !== 'failed' && !heldRedrive) throw new JobBusyError(jobId, state);
      }
      // DynamoDB decides: only a dead-lettered generation can be purged (a repeat finds it purged).
      if (!(await retryTransient(() => records.purge(jobId, actor)))) {
        const heldRedrive = lingering !== undefined && intent === String(lingering.timestamp);
        const outcome = await this.purgeHeldRedrive(jobId, entry, heldRedrive);
        if (outcome === 'completed') return this.dropStaleEntry(jobId, fence);
        if (outcome !== 'purged') throw new JobBusyError(jobId, outcome ?? 'running again (redriven)');
      }
      await this.deps.ledger.recordOutcome(jobId, 'purged', fence);
      if (lingering) {
        await fence();
        await lingering.remove();
      }
      if (intent !== null) {
        await fence.write('HDEL', keys.redriveIntents, jobId);
      }
      await fence();
      await queues.deadLetter.remove(jobId);
      const ref = { jobId, op: entry.name };
      this.history({ type: 'purged', ...ref, at: now() });
      this.emit({ type: 'purged', ...ref });
      return 'done';
    });
  }

  /**
   * A purge of a redrive that died with its new instance still held: that generation is open in
   * DynamoDB, and its bars are lifted. It is barred and decided dead-lettered again (unless a stale
   * delivery of the old generation completed it meanwhile), then purged. Returns what stands.
   */
  private async purgeHeldRedrive(jobId: string, entry: Job, held: boolean): Promise<JobOutcome | undefined> {
    const { records, effects, actor } = this.deps;
    const record = await retryTransient(() => records.get(jobId));
    if (record?.outcome || !held) return record?.outcome;
    await effects.bar({ id: jobId, name: entry.name, data: (entry.data as DeadLetterData).payload });
    const decision = await retryTransient(() =>
      records.decide(jobId, 'dead-lettered', actor, 'purged while its redrive was held'),
    );
    if (decision.outcome !== 'dead-lettered') return decision.outcome;
    return (await retryTransient(() => records.purge(jobId, actor)))
      ? 'purged'
      : (await retryTransient(() => records.get(jobId)))?.outcome;
  }

  /**
   * A DLQ entry DynamoDB contradicts (the job was decided completed, or purged): a cache write a
   * move paused past its lock may have left. Dropped; the operator's action finds nothing to do.
   */
  private async dropStaleEntry(jobId: string, fence: Fence): Promise<'not-found'> {
    await fence();
    await this.deps.queues.deadLetter.remove(jobId);
    return 'not-found';
  }

  /** Removes the failed instance `job` (that very one, if still failed), in the lock's own step. */
  private async removeFailed(job: Job, fence: Fence): Promise<void> {
    const queue = this.deps.queues.operations;
    const jobKey = queue.toKey(String(job.id));
    await fence.run(
      REMOVE_FAILED,
      [queue.keys.failed as string, jobKey, `${jobKey}:logs`],
      String(job.id),
      job.timestamp,
    );
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /**
   * Runs `fn` under the job id's transition lock (see the header: the per-job-id rule). `fn` calls
   * `fence` right before each write: if the lock expired while `fn` was paused, it stops there.
   */
  private locked<T>(jobId: string, fn: (fence: Fence) => Promise<T>): Promise<T> {
    const { redis, keys, lock } = this.deps;
    return withTransitionLock(redis, keys.transitionLock(jobId), fn, lock, () => void this.probe('lock:busy', jobId));
  }

  /** `entry` is built by the caller for this call alone, so it is stamped in place (no copy per record). */
  private history(entry: HistoryEntry): void {
    try {
      entry.workerId = this.deps.actor;
      this.deps.history.record(entry);
    } catch {
      // History never decides a job's fate.
    }
  }

  /** `at`: the transition's own time when it has one already (one clock read per transition). */
  private emit(transition: DistributiveOmit<Transition, keyof Stamp>, at = now()): void {
    this.events.emit('transition', { ...transition, actor: this.deps.actor, at });
  }
}

/** A transition found the job id alive in the operations queue (active, waiting…): nothing is changed. */
export class JobBusyError extends Error {
  override name = 'JobBusyError';
  constructor(
    readonly jobId: string,
    readonly state: string,
  ) {
    super(`job ${jobId} is ${state} in the operations queue; it is not dead-lettered, so nothing was changed`);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function refOf(job: Job): JobRef {
  return { jobId: String(job.id), op: job.name };
}

function now(): string {
  return new Date().toISOString();
}

function summarise(result: JobResult): string {
  const { op, ...rest } = result as JobResult & { user?: unknown };
  delete (rest as { user?: unknown }).user;
  return `${op} ${JSON.stringify(rest)}`;
}
