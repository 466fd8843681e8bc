// One delivery's transitions, in the worker: an attempt starts, fails, is put back without using an
// attempt, or completes — decided in DynamoDB, and acknowledged by BullMQ only while the delivery
// still holds BullMQ's lock (moveToFinished checks its token).
import type { Job } from 'bullmq';
import { retryTransient } from '../../runtime/retry.js';
import { traceIdOf } from '../../telemetry/tracing.js';
import { attemptLogLine } from '../dead-letter.js';
import type { PutBackCause } from '../history-entry.js';
import { type JobRef, now, refOf, type Stamp, type Transition } from '../transition.js';
import type { LifecycleCore } from './core.js';

type Details<T extends Transition['type']> = Omit<
  Extract<Transition, { type: T }>,
  keyof JobRef | keyof Stamp | 'type'
>;

export function attemptStarted(core: LifecycleCore, job: Job): number {
  const attempt = job.attemptsMade + 1;
  // An instance's first start dates its history from when it was added (one history item then
  // holds the job's enqueue, start and, usually, its completion).
  const first = job.attemptsMade === 0 && job.attemptsStarted <= 1;
  const traceId = traceIdOf(job.opts.telemetry?.metadata);
  core.emit({
    type: 'attempt-started',
    ...refOf(job),
    attempt,
    ...(first ? { enqueuedAt: new Date(job.timestamp).toISOString() } : {}),
    ...(traceId !== undefined ? { traceId } : {}),
  });
  return attempt;
}

/** The attempt's line in the job's own log (Bull Board shows it; the DLQ entry collects it) comes first. */
export async function attemptFailed(core: LifecycleCore, job: Job, failure: Details<'attempt-failed'>) {
  const at = now();
  const { attempt, errorClass, message, retryable } = failure;
  try {
    await job.log(attemptLogLine({ attempt, errorClass, message, retryable, at }));
  } finally {
    core.emit({ type: 'attempt-failed', ...refOf(job), ...failure }, at);
  }
}

/**
 * Puts the running job back in the queue for `delayMs` without using an attempt (BullMQ's
 * moveToDelayed with the delivery's token; the caller then throws DelayedError so BullMQ knows).
 */
export async function putBack(
  core: LifecycleCore,
  job: Job,
  token: string,
  details: { attempt: number; delayMs: number; cause: PutBackCause; reason: string; capacityUnits: number },
): Promise<void> {
  await job.moveToDelayed(Date.now() + details.delayMs, token);
  core.emit({ type: 'put-back', ...refOf(job), ...details });
}

/**
 * Decides the job completed in DynamoDB before BullMQ acknowledges it (a crash now redelivers the
 * job, which finds its effect and follows the decision). Returns false when the job was decided
 * otherwise (dead-lettered: a write job's effect could not land, it was barred first).
 *
 * Nothing is written to Redis here. The ledger's `completed` entry, written by a Lua step only while
 * the delivery held BullMQ's lock (`recordCompletedIfOwner`), is gone (issue 24: a round trip a job,
 * repeating DynamoDB's decision). Its lock check kept a stale delivery (its lock expired and the job
 * went to another) from adding an entry, and made it say `lock-lost` instead of `completed`; only
 * counting read either. Correctness never rested on it: the outcome is DynamoDB's one conditional
 * write per generation, which a stale delivery wins only when it is the truth (its effect landed and
 * nobody decided), and BullMQ's moveToFinished checks the lock token, so a stale delivery cannot
 * acknowledge the job in Redis; the job's owner follows the decision. What changes: a stale delivery
 * whose job stands completed now emits `completed` (its history and metrics count that attempt; its
 * ack then fails on BullMQ's lock check) where it emitted `lock-lost`.
 */
export async function completed(core: LifecycleCore, job: Job, details: Details<'completed'>): Promise<boolean> {
  const { records, actor } = core.deps;
  const ref = refOf(job);
  const decision = await retryTransient(() => records.decide(ref.jobId, 'completed', actor, { op: job.name }));
  if (decision.outcome !== 'completed') {
    core.emit({ type: 'lock-lost', ...ref, attempt: details.attempt });
    return false;
  }
  core.emit({ type: 'completed', ...ref, ...details });
  return true;
}
