// A version conflict is two writers meeting on one user, not a failure of the job: the job goes back
// to the queue after a jittered pause without using an attempt (JobLifecycle.putBack; BullMQ's
// moveToDelayed with the job's lock token skips the attempt count, and a DelayedError tells the
// worker it was moved).
import { DelayedError, type Job } from 'bullmq';
import type { JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import { VersionConflictError } from '../shared/store/errors.js';

/** Contention, not failure: the write path lost every round of its race for the user's next version. */
export function isContention(error: unknown): boolean {
  return error instanceof VersionConflictError;
}

/**
 * The pause before a contended job runs again: doubles with each start of the job (capped), then
 * jittered over [0.5, 1.5) so put-back jobs on one user do not come back in step.
 * @default base 25 ms, cap 2,000 ms
 */
export function putBackDelayMs(starts: number, random: () => number = Math.random, baseMs = 25, capMs = 2000): number {
  const delay = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(starts - 1, 0), 10));
  return Math.round(delay * (0.5 + random()));
}

/** Puts the running job back (a lifecycle transition) and throws the error that tells BullMQ so. */
export async function putBack(lifecycle: JobLifecycle, job: Job, token: string, attempt: number): Promise<never> {
  const delayMs = putBackDelayMs(job.attemptsStarted);
  await lifecycle.putBack(job, token, { attempt, delayMs, reason: 'contended: lost every round for the user' });
  throw new DelayedError(`put back for ${delayMs} ms: contended`);
}
