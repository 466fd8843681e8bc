// A job's history is a subscriber of its transitions, like its logs, traces and metrics: each
// transition maps to the entries it adds to the job's own timeline (none for the producer's
// enqueue: the ledger and DynamoDB's acceptance hold it, and its entry is written at the first
// attempt, in the same history item as the start and usually the completion).
import type { JobResult } from '../domain/jobs.js';
import type { HistoryRecorder } from './history.js';
import type { HistoryEntry } from './history-entry.js';
import { handleTransition, type PerTransition, type Stamp, type Transition } from './transition.js';

/** Who and when, as a history entry says them. */
const stamp = (t: Stamp) => ({ at: t.at, workerId: t.actor });

/** The history entries of each kind of transition. Exhaustive: a new kind must say its entries. */
const HISTORY: PerTransition<HistoryEntry[]> = {
  enqueued: () => [],
  recovered: () => [],
  'lock-lost': () => [],
  'attempt-started': (t) => {
    const started: HistoryEntry = {
      ...stamp(t),
      type: 'attempt-started',
      jobId: t.jobId,
      op: t.op,
      attempt: t.attempt,
    };
    if (t.enqueuedAt === undefined) return [started];
    return [{ ...stamp(t), type: 'enqueued', jobId: t.jobId, op: t.op, at: t.enqueuedAt }, started];
  },
  'attempt-failed': (t) => [
    {
      ...stamp(t),
      type: 'attempt-failed',
      jobId: t.jobId,
      op: t.op,
      attempt: t.attempt,
      errorClass: t.errorClass,
      message: t.message,
      retryable: t.retryable,
      capacityUnits: t.capacityUnits,
      ...(t.nextDelayMs !== undefined ? { nextDelayMs: t.nextDelayMs } : {}),
    },
  ],
  completed: (t) => [
    {
      ...stamp(t),
      type: 'completed',
      jobId: t.jobId,
      op: t.op,
      attempt: t.attempt,
      durationMs: t.durationMs,
      capacityUnits: t.capacityUnits,
      result: summarise(t.result),
    },
  ],
  'put-back': (t) => [
    {
      ...stamp(t),
      type: 'put-back',
      jobId: t.jobId,
      op: t.op,
      attempt: t.attempt,
      delayMs: t.delayMs,
      cause: t.cause,
      reason: t.reason,
      capacityUnits: t.capacityUnits,
    },
  ],
  // Decided from DynamoDB's record, not by an attempt: no time or capacity of its own to show.
  'settled-completed': (t) => [
    {
      ...stamp(t),
      type: 'completed',
      jobId: t.jobId,
      op: t.op,
      attempt: t.attempts,
      durationMs: 0,
      capacityUnits: 0,
      result: t.note,
    },
  ],
  'dead-lettered': (t) => [
    {
      ...stamp(t),
      type: 'dead-lettered',
      jobId: t.jobId,
      op: t.op,
      reason: t.reason,
      attempts: t.attempts,
      ...(t.landed ? { landed: t.landed } : {}),
    },
  ],
  redriven: (t) => [{ ...stamp(t), type: t.type, jobId: t.jobId, op: t.op }],
  purged: (t) => [{ ...stamp(t), type: t.type, jobId: t.jobId, op: t.op }],
};

/** The history entries one transition adds. */
export function historyOf(t: Transition): HistoryEntry[] {
  return handleTransition(HISTORY, t);
}

/** Records every transition's entries in the process's history recorder. */
export function recordHistory(
  lifecycle: { onTransition(listener: (t: Transition) => void): () => void },
  recorder: HistoryRecorder,
): () => void {
  return lifecycle.onTransition((t) => {
    for (const entry of historyOf(t)) recorder.record(entry);
  });
}

function summarise(result: JobResult): string {
  const { op, ...rest } = result as JobResult & { user?: unknown };
  delete (rest as { user?: unknown }).user;
  return `${op} ${JSON.stringify(rest)}`;
}
