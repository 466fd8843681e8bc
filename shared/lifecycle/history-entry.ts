// What one entry of a job's history says: the type the recorder (history.ts) buffers and the
// stores (store/types.ts, store/errors.ts) write, in a module of its own so that neither side
// imports the other's module for it (they had formed an import circle).

/** Why a job went back to the queue without using an attempt (see worker/put-back.ts). */
export type PutBackCause = 'contended' | 'throttled';

export type HistoryEntry = {
  jobId: string;
  at: string;
  op?: string;
  workerId?: string;
} & (
  | { type: 'enqueued' }
  | {
      type: 'attempt-started';
      attempt: number;
      /**
       * The job's trace (W3C trace id) when tracing is on: kept here so a timeline links to it after
       * Redis pruned the job, whose telemetry metadata was the only other copy.
       */
      traceId?: string;
    }
  | {
      type: 'attempt-failed';
      attempt: number;
      errorClass: string;
      message: string;
      retryable: boolean;
      nextDelayMs?: number;
      /** Units the failed attempt consumed (absent in entries written before 0.3). */
      capacityUnits?: number;
      /** The delivery that failed (its lock token's first characters; absent before 0.4). */
      delivery?: string;
      /** Its delivery no longer held the job (a stale delivery): shown, not counted as an attempt. */
      stale?: boolean;
    }
  | { type: 'completed'; attempt: number; durationMs: number; capacityUnits: number; result: string }
  | { type: 'dead-lettered'; reason: string; attempts: number; landed?: string[] }
  | { type: 'redriven' }
  | { type: 'purged' }
  | {
      type: 'put-back';
      attempt: number;
      delayMs: number;
      cause?: PutBackCause;
      reason: string;
      capacityUnits?: number;
    }
);

export type HistoryType = HistoryEntry['type'];
