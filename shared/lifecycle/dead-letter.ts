// The dead-letter queue's data: a job that failed for good keeps its original payload, jobId, every
// attempt's error, the final reason and, for a batch, which of its users landed. Built from the
// failed instance and its log; the transitions that write it live in job-lifecycle.ts.
import type { Job } from 'bullmq';

export interface AttemptRecord {
  attempt: number;
  errorClass: string;
  message: string;
  retryable: boolean;
  at: string;
  /** Who wrote it: the worker's id (absent in lines written before 0.4, and in synthetic ones). */
  worker?: string;
  /** Which delivery of that worker: the first characters of its BullMQ lock token. */
  delivery?: string;
}

/** A delivery's short name: enough of its lock token to tell two deliveries of one job apart. */
export const deliveryOf = (token: string): string => token.slice(0, 8);

/** `worker/delivery`, or '' for a record that does not say (shown after an attempt in listings). */
export function writerOf(record: Pick<AttemptRecord, 'worker' | 'delivery'>): string {
  if (!record.worker) return '';
  return ` by ${record.worker}${record.delivery ? `/${record.delivery}` : ''}`;
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
  /** A batch dead-lettered after some of its users landed: those users (their creates stay applied). */
  landed?: string[];
  /** …and the ones that did not land. */
  missing?: string[];
}

export interface DeadLetterEntry extends DeadLetterData {
  jobId: string;
}

const ATTEMPT_LOG_TAG = 'attempt-failed ';
/** How a delivery that lost the decision while it held the job fails it: not an attempt of the job. */
const LOST_DECISION_TAG = 'lost the decision: ';

/** The error a delivery that still holds its job fails it with after losing the decision (processor.ts). */
export function lostDecisionMessage(jobId: string, reason: string): string {
  return `${LOST_DECISION_TAG}job ${jobId} ${reason}; the dead-letter move follows DynamoDB's decision`;
}

const isLostDecision = (failedReason: string | undefined) => failedReason?.startsWith(LOST_DECISION_TAG) === true;
const REDRIVE_LOG_LINE = 'redriven from the dead-letter queue';

/** One line per failed attempt in the job's own log: Bull Board shows it, and the DLQ collects it. */
export function attemptLogLine(record: AttemptRecord): string {
  return `${ATTEMPT_LOG_TAG}${JSON.stringify(record)}`;
}

function parseAttemptLogs(lines: readonly string[]): AttemptRecord[] {
  return lines
    .filter((l) => l.startsWith(ATTEMPT_LOG_TAG))
    .map((l) => JSON.parse(l.slice(ATTEMPT_LOG_TAG.length)) as AttemptRecord);
}

/** The log a redriven instance starts with: every earlier attempt, and one line per redrive so far. */
export function redriveLogLines(data: DeadLetterData): string[] {
  return [...data.attempts.map(attemptLogLine), ...Array.from({ length: data.redrives + 1 }, () => REDRIVE_LOG_LINE)];
}

export function buildDeadLetterData(
  job: Job,
  logs: readonly string[],
  effect: { landed: string[]; missing: string[] },
): DeadLetterData {
  const attempts = parseAttemptLogs(logs);
  const reason = job.failedReason || attempts.at(-1)?.message || 'unknown';
  // A job that failed without reaching our processor's catch (e.g. stalled too often) has no log line
  // for it. A delivery that lost the decision is no attempt: BullMQ counted it, the entry does not.
  if (attempts.length < job.attemptsMade && job.failedReason && !isLostDecision(job.failedReason)) {
    attempts.push({
      attempt: job.attemptsMade,
      errorClass: 'Stalled',
      message: job.failedReason,
      retryable: false,
      at: new Date(job.finishedOn ?? Date.now()).toISOString(),
    });
  }
  return {
    originalJobId: String(job.id),
    name: job.name,
    payload: job.data,
    reason,
    attempts,
    attemptsMade: attempts.length,
    enqueuedAt: new Date(job.timestamp).toISOString(),
    deadLetteredAt: new Date().toISOString(),
    redrives: logs.filter((l) => l === REDRIVE_LOG_LINE).length,
    // Only worth saying when part of a multi-user job landed.
    ...(effect.landed.length > 0 ? { landed: effect.landed, missing: effect.missing } : {}),
  };
}
