// Two errors are not failures of the job, and go back to the queue after a jittered pause without
// using an attempt (JobLifecycle.putBack; BullMQ's moveToDelayed with the job's lock token skips
// the attempt count, and a DelayedError tells the worker it was moved):
//   - contended: a version conflict is two writers meeting on one user;
//   - throttled: DynamoDB is over its capacity, and with flow control on the fleet slows down
//     (shared/flow/fleet-rate.ts) instead of each job burning its attempts on it.
import { DelayedError, type Job } from 'bullmq';
import type { PutBackCause } from '../shared/lifecycle/history.js';
import type { JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import { classifyError } from '../shared/runtime/errors.js';
import { VersionConflictError } from '../shared/store/errors.js';

const REASONS: Record<PutBackCause, string> = {
  contended: 'contended: lost every round for the user',
  throttled: 'throttled: DynamoDB is over its capacity; the fleet slows down',
};

/** Why `error` puts the job back rather than failing its attempt; undefined when it is a failure. */
export function putBackCause(error: unknown, flowControl: boolean): PutBackCause | undefined {
  if (error instanceof VersionConflictError) return 'contended';
  if (flowControl && classifyError(error).kind === 'throttled') return 'throttled';
  return undefined;
}

/**
 * The pause before a put-back job runs again: doubles with each start of the job (capped), then
 * jittered over [0.5, 1.5) so put-back jobs do not come back in step.
 * @default base 25 ms, cap 2,000 ms
 */
export function putBackDelayMs(starts: number, random: () => number = Math.random, baseMs = 25, capMs = 2000): number {
  const delay = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(starts - 1, 0), 10));
  return Math.round(delay * (0.5 + random()));
}

/** Puts the running job back (a lifecycle transition) and throws the error that tells BullMQ so. */
export async function putBack(
  lifecycle: JobLifecycle,
  job: Job,
  token: string,
  attempt: number,
  cause: PutBackCause,
  capacityUnits: number,
): Promise<never> {
  // A throttled job needs no long pause: the fleet rate paces its return.
  const delayMs = putBackDelayMs(job.attemptsStarted, Math.random, 25, cause === 'throttled' ? 500 : 2000);
  await lifecycle.putBack(job, token, { attempt, delayMs, cause, reason: REASONS[cause], capacityUnits });
  throw new DelayedError(`put back for ${delayMs} ms: ${cause}`);
}
