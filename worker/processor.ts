// The job runner: validates a delivery, runs its handler, and reports the attempt to the job
// lifecycle, which writes every record. Bookkeeping never decides a job's fate: the only write that
// gates success is the lifecycle's `completed` (the ledger record, fenced by BullMQ's lock).
import { type Job, UnrecoverableError } from 'bullmq';
import type { JobResult } from '../shared/domain/jobs.js';
import { parseJob } from '../shared/domain/payload.js';
import { withCallTally } from '../shared/dynamo/instrumentation.js';
import { lostDecisionMessage } from '../shared/lifecycle/dead-letter.js';
import type { JobLifecycle, LostReason } from '../shared/lifecycle/job-lifecycle.js';
import { classifyError } from '../shared/runtime/errors.js';
import { JobBarredError } from '../shared/store/errors.js';
import { tracing } from '../shared/telemetry/tracing.js';
import type { FlowControl } from './flow-control.js';
import type { Handlers } from './handlers.js';
import { putBack, putBackCause } from './put-back.js';

/** The delay BullMQ's exponential backoff will use before the next attempt (without jitter). */
function nextDelayMs(job: Job, attempt: number): number | undefined {
  const backoff = job.opts.backoff;
  if (typeof backoff !== 'object' || backoff.type !== 'exponential' || !backoff.delay) return undefined;
  return backoff.delay * 2 ** (attempt - 1);
}

/**
 * A delivery that loses applies nothing and ends without error: no failed attempt, no log line.
 * A stale one returns (BullMQ's ack then fails its lock check: the job is not touched, nor an
 * attempt counted); one that still holds its job fails it so the dead-letter move follows the
 * decision (the DLQ entry does not count this delivery as an attempt).
 */
async function loseDecision(
  lifecycle: JobLifecycle,
  job: Job,
  token: string | undefined,
  attempt: number,
  reason: LostReason,
): Promise<undefined> {
  if ((await lifecycle.lostDecision(job, token, { attempt, reason })) === 'stale') return undefined;
  const why = reason === 'barred' ? 'was barred by a dead-letter move' : 'was decided otherwise while it ran';
  throw new UnrecoverableError(lostDecisionMessage(String(job.id), why));
}

/** Records a failed attempt (its log line, its transition), then throws what tells BullMQ whether to retry. */
async function failAttempt(
  lifecycle: JobLifecycle,
  job: Job,
  token: string | undefined,
  error: unknown,
  spent: { attempt: number; durationMs: number; capacityUnits: number },
): Promise<never> {
  const { attempt } = spent;
  const maxAttempts = job.opts.attempts ?? 1;
  const c = classifyError(error);
  const message = (error as Error)?.message ?? String(error);
  const final = !c.retryable || attempt >= maxAttempts;
  const delay = final ? undefined : nextDelayMs(job, attempt);
  const failure = {
    ...spent,
    maxAttempts,
    errorClass: c.errorClass,
    kind: c.kind,
    message,
    retryable: c.retryable,
    final,
    ...(delay !== undefined ? { nextDelayMs: delay } : {}),
  };
  // The job's log line is bookkeeping: its failure must not change the outcome.
  await lifecycle.attemptFailed(job, failure, token).catch(() => undefined);
  if (!c.retryable) throw new UnrecoverableError(`${c.errorClass}: ${message}`);
  throw error;
}

export function makeProcessor(handlers: Handlers, lifecycle: JobLifecycle, flow: FlowControl) {
  // One span per attempt (a child of BullMQ's `process` span when tracing is on): the DynamoDB calls
  // nest under it, and the lifecycle's transitions write the job id, attempt and outcome onto it.
  return (job: Job, token?: string): Promise<JobResult | undefined> =>
    tracing().span(`attempt ${job.name}`, {}, () => runAttempt(job, token));

  async function runAttempt(job: Job, token?: string): Promise<JobResult | undefined> {
    const attempt = lifecycle.attemptStarted(job);
    flow.noteStarted();
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    let outcome: { result: JobResult; capacityUnits: number; dynamoCalls: number; dynamoMs: number };
    // Kept whatever the attempt's outcome: flow control learns from failed and put-back attempts too.
    const tally = flow.newTally();
    try {
      const result = await withCallTally(tally, async () => {
        const parsed = parseJob(job.name, job.data);
        const handler = handlers[parsed.name] as (p: unknown, id: string) => Promise<JobResult>;
        return handler(parsed.payload, String(job.id));
      });
      flow.noteCalls(tally);
      outcome = {
        result,
        capacityUnits: tally.capacityUnits,
        dynamoCalls: tally.calls,
        dynamoMs: Math.round(tally.durationMs * 10) / 10,
      };
    } catch (error) {
      flow.noteCalls(tally);
      if (error instanceof JobBarredError) return loseDecision(lifecycle, job, token, attempt, 'barred');
      const cause = putBackCause(error, flow.enabled);
      // Not a failed attempt: the job goes back to the queue and its attempts stay as they are.
      if (token && cause) return putBack(lifecycle, job, token, attempt, cause, tally.capacityUnits);
      return failAttempt(lifecycle, job, token, error, {
        attempt,
        durationMs: elapsed(),
        capacityUnits: tally.capacityUnits,
      });
    }
    // Decided before BullMQ acknowledges: if we die now the job is redelivered and finds its effect.
    const decided = await lifecycle.completed(job, { attempt, durationMs: elapsed(), ...outcome });
    if (!decided) return loseDecision(lifecycle, job, token, attempt, 'decided-otherwise');
    return outcome.result;
  }
}
