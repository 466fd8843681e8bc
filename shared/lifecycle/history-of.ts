// A job's history is a subscriber of its transitions, like its logs, traces and metrics: each
// transition maps to the entries it adds to the job's own timeline (none for the producer's
// enqueue: the ledger and DynamoDB's acceptance hold it, and its entry is written at the first
// attempt, in the same history item as the start and usually the completion).
import type { JobResult } from '../domain/jobs.js';
import type { HistoryRecorder } from './history.js';
import type { HistoryEntry } from './history-entry.js';
import { handleTransition, type JobRef, type PerTransition, type Stamp, type Transition } from './transition.js';

/** What every entry starts with: when, by whom, what happened, to which job. */
function head<K extends HistoryEntry['type']>(t: Stamp & JobRef, type: K) {
  return { at: t.at, workerId: t.actor, type, jobId: t.jobId, op: t.op };
}

/** The named fields of the transition, as they are. */
function pick<T, K extends keyof T>(t: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, t[key]])) as Pick<T, K>;
}

/** The history entries of each kind of transition. Exhaustive: a new kind must say its entries. */
const HISTORY: PerTransition<HistoryEntry[]> = {
  enqueued: () => [],
  recovered: () => [],
  'lock-lost': () => [],
  'attempt-started': (t) => {
    const started = {
      ...head(t, 'attempt-started'),
      attempt: t.attempt,
      ...(t.traceId !== undefined ? { traceId: t.traceId } : {}),
    };
    if (t.enqueuedAt === undefined) return [started];
    return [{ ...head(t, 'enqueued'), at: t.enqueuedAt }, started];
  },
  'attempt-failed': (t) => [
    {
      ...head(t, 'attempt-failed'),
      ...pick(t, 'attempt', 'errorClass', 'message', 'retryable', 'capacityUnits'),
      ...(t.nextDelayMs !== undefined ? { nextDelayMs: t.nextDelayMs } : {}),
      ...(t.delivery ? { delivery: t.delivery } : {}),
      ...(t.stale ? { stale: true } : {}),
    },
  ],
  completed: (t) => [
    { ...head(t, 'completed'), ...pick(t, 'attempt', 'durationMs', 'capacityUnits'), result: summarise(t.result) },
  ],
  'put-back': (t) => [{ ...head(t, 'put-back'), ...pick(t, 'attempt', 'delayMs', 'cause', 'reason', 'capacityUnits') }],
  // Decided from DynamoDB's record, not by an attempt: no time or capacity of its own to show.
  'settled-completed': (t) => [
    { ...head(t, 'completed'), attempt: t.attempts, durationMs: 0, capacityUnits: 0, result: t.note },
  ],
  'dead-lettered': (t) => [
    { ...head(t, 'dead-lettered'), ...pick(t, 'reason', 'attempts'), ...(t.landed ? { landed: t.landed } : {}) },
  ],
  redriven: (t) => [head(t, t.type)],
  purged: (t) => [head(t, t.type)],
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
