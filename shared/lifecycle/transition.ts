// A job's transitions: one discriminated union. The lifecycle emits one per change of a job's
// state; history, logs, traces and metrics subscribe to it (history-of.ts, transition-log.ts,
// transition-trace.ts, worker/metrics.ts), so adding a transition is one new case here and the
// compiler lists every subscriber that must handle it.
import type { Job } from 'bullmq';
import type { JobResult } from '../domain/jobs.js';
import type { PutBackCause } from './history-entry.js';
import type { LedgerJob } from './ledger.js';

export interface JobRef {
  jobId: string;
  op: string;
}

/** What every transition event carries: who did it and when. */
export interface Stamp {
  actor: string;
  at: string;
}

export type Transition = Stamp &
  (
    | { type: 'enqueued'; jobs: readonly LedgerJob[] }
    | { type: 'recovered'; jobs: readonly LedgerJob[] }
    /** `enqueuedAt` on an instance's first start: its history begins there, dated when it was added. */
    | (JobRef & { type: 'attempt-started'; attempt: number; enqueuedAt?: string; traceId?: string })
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
        /** The delivery (lock token prefix) that failed; set by the lifecycle. */
        delivery?: string;
        /** It no longer held BullMQ's lock: its line was not written, and it is no attempt of the job. */
        stale?: boolean;
      })
    | (JobRef & {
        type: 'completed';
        attempt: number;
        durationMs: number;
        capacityUnits: number;
        dynamoCalls: number;
        /** Of durationMs, the time spent waiting on DynamoDB (the rest is the project's own). */
        dynamoMs: number;
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
    /**
     * A delivery lost the decision (its job was barred, or decided otherwise while it ran): nothing
     * recorded as an attempt. `stale`: it no longer held BullMQ's lock (it ends quietly); else it
     * holds the job and hands it to the dead-letter move, which follows the decision.
     */
    | (JobRef & { type: 'lock-lost'; attempt: number; reason: LostReason; stale: boolean })
    /** The job failed for good but DynamoDB decided it completed (its effect had landed, or its ack was lost). */
    | (JobRef & { type: 'settled-completed'; attempts: number; note: string })
    | (JobRef & { type: 'dead-lettered'; reason: string; attempts: number; landed?: string[]; missing?: string[] })
    | (JobRef & { type: 'redriven' })
    | (JobRef & { type: 'purged' })
  );

export type TransitionType = Transition['type'];

/** Why a delivery lost: its write was barred by a dead-letter move, or the outcome stood otherwise. */
export type LostReason = 'barred' | 'decided-otherwise';

/** The transitions of one kind. */
export type TransitionOf<K extends TransitionType> = Extract<Transition, { type: K }>;

/**
 * A subscriber's cases, one function per transition kind. A table typed so does not compile until
 * it handles every kind: a new transition makes the compiler list each subscriber it must touch.
 */
export type PerTransition<R, Args extends unknown[] = []> = {
  [K in TransitionType]: (t: TransitionOf<K>, ...args: Args) => R;
};

/** Calls the table's function for `t`'s kind. */
export function handleTransition<R, Args extends unknown[]>(
  table: PerTransition<R, Args>,
  t: Transition,
  ...args: Args
): R {
  // Each entry takes only its own kind; TypeScript cannot pair table[t.type] with t by itself.
  const handle = table[t.type] as ((t: Transition, ...args: Args) => R) | undefined;
  if (!handle) throw new Error(`no case for transition ${JSON.stringify(t)}`);
  return handle(t, ...args);
}

/** A transition before it is stamped with its actor and time. */
export type Unstamped = DistributiveOmit<Transition, keyof Stamp>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Named points inside the multi-step transitions, where tests pause to drive a chosen interleaving. */
export type TransitionStep =
  | 'lock:busy'
  | 'move:locked'
  | 'move:dead-letter-added'
  | 'redrive:locked'
  | 'redrive:adding'
  | 'redrive:added'
  | 'redrive:removing-entry'
  | 'redrive:dead-letter-removed'
  | 'redrive:released'
  | 'purge:locked'
  | 'enqueue:recorded'
  | 'enqueue:added';

export type SettleOutcome = 'dead-lettered' | 'completed' | 'gone';
/** `moved-on`: the job's dead-lettered generation is not the one the operator's plan named (see deadLetteredGeneration). */
export type OperatorOutcome = 'done' | 'not-found' | 'moved-on';

/** What an operator's redrive or purge may be bound to: the generation a plan saw dead-lettered. */
export interface OperatorCheck {
  /** Act only if the job's dead-lettered generation is still this one (checked under its lock). */
  gen?: number;
}

/**
 * The generation a job's DLQ entry stands for, by its DynamoDB record: the record's own, or, while
 * a redrive of it is unfinished (the generation reopened, the old entry not yet removed; the next
 * redrive call resumes it), the one before. Undefined without a record.
 */
export function deadLetteredGeneration(
  record: { gen: number; outcome?: string; genStartedAt?: number } | undefined,
): number | undefined {
  if (!record) return undefined;
  const redriveUnfinished = record.outcome === undefined && record.genStartedAt !== undefined;
  return redriveUnfinished ? record.gen - 1 : record.gen;
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

export function refOf(job: Job): JobRef {
  return { jobId: String(job.id), op: job.name };
}

export function now(): string {
  return new Date().toISOString();
}
