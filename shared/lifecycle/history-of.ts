// A job's history is a subscriber of its transitions, like its logs, traces and metrics: each
// transition maps to the entries it adds to the job's own timeline (none for the producer's
// enqueue: the ledger and DynamoDB's acceptance hold it, and its entry is written at the first
// attempt, in the same history item as the start and usually the completion).
import type { JobResult } from '../domain/jobs.js';
import type { HistoryRecorder } from './history.js';
import type { HistoryEntry } from './history-entry.js';
import type { Transition } from './transition.js';

/** The history entries one transition adds. Exhaustive: a new transition type must say its entries. */
export function historyOf(t: Transition): HistoryEntry[] {
  const base = { at: t.at, workerId: t.actor };
  switch (t.type) {
    case 'enqueued':
    case 'recovered':
    case 'lock-lost':
      return [];
    case 'attempt-started': {
      const started: HistoryEntry = { ...base, type: 'attempt-started', jobId: t.jobId, op: t.op, attempt: t.attempt };
      if (t.enqueuedAt === undefined) return [started];
      return [{ ...base, type: 'enqueued', jobId: t.jobId, op: t.op, at: t.enqueuedAt }, started];
    }
    case 'attempt-failed':
      return [
        {
          ...base,
          type: 'attempt-failed',
          jobId: t.jobId,
          op: t.op,
          attempt: t.attempt,
          errorClass: t.errorClass,
          message: t.message,
          retryable: t.retryable,
          capacityUnits: t.capacityUnits,
          ...(t.nextDelayMs !== undefined ? { nextDelayMs: t.nextDelayMs } : {}),
          ...(t.delivery ? { delivery: t.delivery } : {}),
          ...(t.stale ? { stale: true } : {}),
        },
      ];
    case 'completed':
      return [
        {
          ...base,
          type: 'completed',
          jobId: t.jobId,
          op: t.op,
          attempt: t.attempt,
          durationMs: t.durationMs,
          capacityUnits: t.capacityUnits,
          result: summarise(t.result),
        },
      ];
    case 'put-back':
      return [
        {
          ...base,
          type: 'put-back',
          jobId: t.jobId,
          op: t.op,
          attempt: t.attempt,
          delayMs: t.delayMs,
          cause: t.cause,
          reason: t.reason,
          capacityUnits: t.capacityUnits,
        },
      ];
    case 'settled-completed':
      return [
        {
          ...base,
          type: 'completed',
          jobId: t.jobId,
          op: t.op,
          attempt: t.attempts,
          durationMs: 0,
          capacityUnits: 0,
          result: t.note,
        },
      ];
    case 'dead-lettered':
      return [
        {
          ...base,
          type: 'dead-lettered',
          jobId: t.jobId,
          op: t.op,
          reason: t.reason,
          attempts: t.attempts,
          ...(t.landed ? { landed: t.landed } : {}),
        },
      ];
    case 'redriven':
    case 'purged':
      return [{ ...base, type: t.type, jobId: t.jobId, op: t.op }];
    default:
      return unhandled(t);
  }
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

function unhandled(t: never): never {
  throw new Error(`no history for transition ${JSON.stringify(t)}`);
}

function summarise(result: JobResult): string {
  const { op, ...rest } = result as JobResult & { user?: unknown };
  delete (rest as { user?: unknown }).user;
  return `${op} ${JSON.stringify(rest)}`;
}
