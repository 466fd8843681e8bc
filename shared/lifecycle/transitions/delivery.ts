// One delivery's transitions, in the worker: an attempt starts, fails, is put back without using an
// attempt, or completes — decided in DynamoDB, and acknowledged by BullMQ only while the delivery
// still holds BullMQ's lock (moveToFinished checks its token).
import type { Job } from 'bullmq';
import type { RedisConnection } from '../../runtime/redis.js';
import { luaScript, withLuaScripts } from '../../runtime/redis-scripts.js';
import { retryTransient } from '../../runtime/retry.js';
import { traceIdOf } from '../../telemetry/tracing.js';
import { attemptLogLine, deliveryOf } from '../dead-letter.js';
import type { PutBackCause } from '../history-entry.js';
import { type JobRef, type LostReason, now, refOf, type Stamp, type Transition } from '../transition.js';
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

const LOG_IF_OWNER = luaScript('djqAttemptLogIfOwner', 2, new URL('../attempt-log-if-owner.lua', import.meta.url));
type LogIfOwner = (lock: string, logs: string, token: string, line: string, keep: string) => Promise<number>;

/**
 * The attempt's line in the job's own log (Bull Board shows it; the DLQ entry collects it) comes
 * first. It names its writer (worker and delivery) and lands only while that delivery holds BullMQ's
 * lock: a stale delivery's line never reaches a later instance's log, and its history entry says
 * `stale` (the timeline shows it but does not count it as an attempt of the job).
 */
export async function attemptFailed(
  core: LifecycleCore,
  job: Job,
  failure: Details<'attempt-failed'>,
  token: string | undefined = job.token,
) {
  const at = now();
  const { attempt, errorClass, message, retryable } = failure;
  const delivery = token ? deliveryOf(token) : undefined;
  const line = attemptLogLine({
    attempt,
    errorClass,
    message,
    retryable,
    at,
    worker: core.actor,
    ...(delivery ? { delivery } : {}),
  });
  let owned = true;
  try {
    owned = await logIfOwner(core, job, token, line);
  } finally {
    const who = { ...(delivery ? { delivery } : {}), ...(owned ? {} : { stale: true }) };
    core.emit({ type: 'attempt-failed', ...refOf(job), ...failure, ...who }, at);
  }
}

/** Writes `line` if the delivery of `token` holds the job; with no token (a caller outside a worker), as BullMQ would. */
async function logIfOwner(core: LifecycleCore, job: Job, token: string | undefined, line: string): Promise<boolean> {
  if (!token) {
    await job.log(line);
    return true;
  }
  const redis = withLuaScripts<RedisConnection & { djqAttemptLogIfOwner: LogIfOwner }>(core.deps.redis, LOG_IF_OWNER);
  const jobKey = core.deps.queues.operations.toKey(String(job.id));
  const keep = job.opts.keepLogs === undefined ? '' : String(job.opts.keepLogs);
  return (await redis.djqAttemptLogIfOwner(`${jobKey}:lock`, `${jobKey}:logs`, token, line, keep)) === 1;
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
  if (decision.outcome !== 'completed') return false; // the caller says so: lostDecision
  core.emit({ type: 'completed', ...ref, ...details });
  return true;
}

/**
 * A delivery that lost the decision (barred, or its job decided otherwise while it ran) and records
 * no attempt. Which process holds the job decides what happens to it in Redis:
 *  - `stale`: BullMQ's lock is another's or gone (the job stalled and was failed, moved or handed
 *    to another delivery). Its holder settles it; this delivery ends quietly, and BullMQ's ack of
 *    it fails on the lock check, changing nothing.
 *  - `current`: it still holds the job (e.g. `djq recover` re-added an instance of a generation a
 *    move paused on an older instance then dead-lettered). The job must leave the active set or it
 *    stalls for ever: the caller fails it with `lostDecisionError`, and the dead-letter move follows
 *    the standing decision (adds the DLQ entry, or removes a completed/purged one) without counting
 *    this delivery as an attempt.
 */
export async function lostDecision(
  core: LifecycleCore,
  job: Job,
  token: string | undefined,
  details: { attempt: number; reason: LostReason },
): Promise<'stale' | 'current'> {
  // BullMQ's lock of the job: `<job key>:lock`, holding the token of the delivery that owns it.
  const jobKey = core.deps.queues.operations.toKey(String(job.id));
  const holder = token ? await core.deps.redis.get(`${jobKey}:lock`) : undefined;
  const stale = token !== undefined && holder !== token;
  core.emit({ type: 'lock-lost', ...refOf(job), ...details, stale });
  return stale ? 'stale' : 'current';
}
