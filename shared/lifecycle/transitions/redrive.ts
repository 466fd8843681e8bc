// Redrive: a dead-lettered job goes back under its own job id (the idempotency key: a job whose
// effect had in fact landed completes without a second event). DynamoDB first (the generation is
// reopened and the job's bars lifted), then Redis, each step safe to die after: write the intent,
// add the new instance held back, copy the attempts into its log, remove the DLQ entry, record,
// release. The new instance cannot run while the old entry exists.
import type { Job, Queue } from 'bullmq';
import { retryTransient } from '../../runtime/retry.js';
import type { JobRecord } from '../../store/types.js';
import { type DeadLetterData, redriveLogLines } from '../dead-letter.js';
import {
  deadLetteredGeneration,
  JobBusyError,
  now,
  type OperatorCheck,
  type OperatorOutcome,
  refOf,
} from '../transition.js';
import type { Fence } from '../transition-lock.js';
import type { LifecycleCore } from './core.js';

/**
 * A redriven job waits this long unless the redrive releases it: if the redrive dies half-way, the
 * next sweep finishes it (finishInterruptedRedrives) long before the hold runs out, and the job can
 * never run while its old dead-letter entry still exists.
 */
export const REDRIVE_HOLD_MS = 24 * 60 * 60 * 1000;

/** The sweep looks at the latest-due delayed jobs a page at a time, holds first, at most this many. */
const HELD_PAGE = 10;
const HELD_SCAN_LIMIT = 1000;

export function redrive(
  core: LifecycleCore,
  jobId: string,
  linkOriginal: (metadata: string | undefined) => void,
  check: OperatorCheck = {},
): Promise<OperatorOutcome> {
  const { queues, records } = core.deps;
  return core.locked(jobId, async (fence) => {
    await core.probe('redrive:locked', jobId);
    const entry = await queues.deadLetter.getJob(jobId);
    if (!entry) return 'not-found';
    linkOriginal(entry.opts.telemetry?.metadata);
    const record = await retryTransient(() => records.get(jobId));
    if (record?.outcome === 'completed' || record?.outcome === 'purged') return core.dropStaleEntry(entry, fence);
    // A plan's redrive acts on the generation it saw, never on a later one (a poison job redriven by
    // an earlier run of the plan is back in the DLQ within milliseconds): read here, under the lock,
    // so no interleaving of two runs redrives one generation twice.
    if (check.gen !== undefined && deadLetteredGeneration(record) !== check.gen) return 'moved-on';
    const lingering = await queues.operations.getJob(jobId);
    if (lingering) {
      const state = await lingering.getState();
      if ((await isInterruptedRedrive(core, lingering, entry)) || isHeldForOpenGeneration(lingering, entry, record)) {
        await finishRedrive(core, jobId, lingering, entry, fence); // an interrupted redrive of this entry: finish it
        return 'done';
      }
      // The dead instance the move had not removed yet, or a hold nothing will release (removed
      // below); anything else means the id is alive.
      if (state !== 'failed' && !(await isStrandedHold(core, lingering, record))) throw new JobBusyError(jobId, state);
    }
    const timestamp = Math.max(Date.now(), (lingering?.timestamp ?? 0) + 1, entry.timestamp + 1);
    // A redrive that died after reopening (the generation is open, its start recorded) resumes.
    const resumed = record !== undefined && record.outcome === undefined && record.genStartedAt !== undefined;
    if (!resumed && !(await retryTransient(() => records.reopen(jobId, core.deps.actor, timestamp))))
      throw new JobBusyError(jobId, 'being changed by another operator');
    const startedAt = resumed ? (record?.genStartedAt ?? timestamp) : timestamp;
    const data = entry.data as DeadLetterData;
    // Its bars go before its next generation can run (a redrive that dies here leaves the job
    // open in DynamoDB and in the DLQ in Redis: a second redrive resumes, `djq recover` re-adds).
    await core.deps.effects.unbar({ id: jobId, name: entry.name, data: data.payload });
    if (lingering) await core.removeInstance(queues.operations, lingering, fence);
    const job = await addHeld(core, entry.name, data, jobId, startedAt, fence);
    await core.probe('redrive:added', jobId);
    await finishRedrive(core, jobId, job, entry, fence);
    return 'done';
  });
}

/** The intent, then the new instance held back (delayed) with its attempts in its log. */
async function addHeld(
  core: LifecycleCore,
  name: string,
  data: DeadLetterData,
  jobId: string,
  at: number,
  fence: Fence,
) {
  const { keys } = core.deps;
  await fence.write('HSET', keys.redriveIntents, jobId, String(at));
  await fence();
  await core.probe('redrive:adding', jobId); // past the fence: a holder paused here still adds (settleHold)
  const job = await addInstance(core, name, data, jobId, at, fence);
  for (const line of redriveLogLines(data)) {
    // A log line cannot check our token either: a holder paused past its lock may find the job gone
    // (another actor finished the redrive, the job ran and left). Lock lost: busy, like any fence.
    await job.log(line).catch(async (error: unknown) => {
      await fence();
      throw error;
    });
  }
  return job;
}

/** How many late holds one redrive's add replaces before it calls the job busy. */
const LATE_HOLDS_REPLACED = 3;

/**
 * BullMQ's add of the held instance, checked: the add is a no-op when an instance of the id is
 * there already, and a redrive paused past its lock can add its hold (stamped with the start of the
 * generation it was for, an earlier one) after this redrive read the id. Released as ours, that
 * instance would run older than the generation DynamoDB has open, and a move skips the failure of
 * such an instance as a stale page's (the job would sit in the failed set for good). A hold not of
 * this generation is removed and ours added; anything else there means the id is alive.
 */
async function addInstance(
  core: LifecycleCore,
  name: string,
  data: DeadLetterData,
  jobId: string,
  at: number,
  fence: Fence,
): Promise<Job> {
  const { queues, jobOptions } = core.deps;
  for (let replaced = 0; ; replaced++) {
    const job = await queues.operations.add(name, data.payload, {
      ...jobOptions,
      jobId,
      timestamp: at,
      delay: REDRIVE_HOLD_MS,
    });
    const there = await queues.operations.getJob(jobId);
    if (there?.timestamp === at) return job;
    const state = there ? await there.getState() : 'gone';
    const lateHold = there?.delay === REDRIVE_HOLD_MS && !there.processedOn && state === 'delayed';
    if (!there || !lateHold || replaced >= LATE_HOLDS_REPLACED) throw new JobBusyError(jobId, state);
    await core.removeInstance(queues.operations, there, fence);
  }
}

/**
 * The second half of a redrive, also run by the sweep for a redrive that died half-way: `entry` (the
 * DLQ entry read under the lock, if still there) goes, then `job` is released. Under the lock.
 */
export async function finishRedrive(
  core: LifecycleCore,
  jobId: string,
  job: Job,
  entry: Job | undefined,
  fence: Fence,
): Promise<void> {
  const { queues, keys, ledger } = core.deps;
  const at = now(); // before the job is released: its next attempt must come after this in its history
  await core.probe('redrive:removing-entry', jobId);
  if (entry) await core.removeInstance(queues.deadLetter, entry, fence);
  await core.probe('redrive:dead-letter-removed', jobId);
  // Recorded once the DLQ entry is gone: the ledger never says "redriven" for a job still in the DLQ.
  await ledger.recordOutcome(jobId, 'redriven', fence);
  if ((await job.getState()) === 'delayed') {
    await fence();
    // BullMQ's promote cannot check our token: a holder paused past its lock between its fence and
    // its promote may release the job first. Released is what this step is for.
    await job.promote().catch(async (error: unknown) => {
      if ((await job.getState()) === 'delayed') throw error;
    });
  }
  await core.probe('redrive:released', jobId);
  await fence.write('HDEL', keys.redriveIntents, jobId);
  core.emit({ type: 'redriven', ...refOf(job) }, at);
}

/**
 * Whether `job` is the new instance of a redrive that died half-way: its intent names it, and it
 * is still held or the DLQ entry predates it. An intent left by a redrive that died after
 * releasing its job (before clearing the intent) names an instance that has run since: finishing
 * that "redrive" again would record `redriven` over its outcome, or remove the DLQ entry of its
 * own later move.
 */
export async function isInterruptedRedrive(core: LifecycleCore, job: Job, entry: Job | undefined): Promise<boolean> {
  const { keys, redis } = core.deps;
  if ((await redis.hget(keys.redriveIntents, String(job.id))) !== String(job.timestamp)) return false;
  if (entry && entry.timestamp < job.timestamp) return true;
  return (await job.getState()) === 'delayed' && !job.processedOn;
}

/**
 * Whether `job` is the held instance of a redrive of `entry` that stopped half-way and whose intent
 * is gone: a redrive paused past its lock between its intent and its add, while the sweep found
 * the intent with no job yet and dropped it. DynamoDB still names the instance: the generation the
 * redrive opened started at its timestamp. The next redrive of the entry finishes it (a purge purges it).
 */
export function isHeldForOpenGeneration(job: Job, entry: Job, record: JobRecord | undefined): boolean {
  return (
    record !== undefined &&
    record.outcome === undefined &&
    record.genStartedAt === job.timestamp &&
    entry.timestamp < job.timestamp &&
    !job.processedOn &&
    job.delay === REDRIVE_HOLD_MS
  );
}

/**
 * Whether `job` is a hold no redrive will ever release: an instance added held by a redrive paused
 * past its lock (BullMQ's add cannot check our token) after another actor had finished that
 * redrive, or decided or reopened the generation since. No intent names it, and DynamoDB's record
 * does not name it as the generation still open.
 */
export async function isStrandedHold(core: LifecycleCore, job: Job, record: JobRecord | undefined): Promise<boolean> {
  if (job.delay !== REDRIVE_HOLD_MS || job.processedOn || record === undefined) return false;
  const { redis, keys } = core.deps;
  if ((await redis.hget(keys.redriveIntents, String(job.id))) === String(job.timestamp)) return false;
  if (record.outcome === undefined && record.genStartedAt === job.timestamp) return false;
  return (await job.getState()) === 'delayed';
}

/**
 * Finishes redrives whose process died or was paused half-way (run by the sweep): those an intent
 * names, then holds no intent names (a redrive paused past its lock around its add).
 */
export async function finishInterruptedRedrives(core: LifecycleCore): Promise<number> {
  const { keys, redis } = core.deps;
  let finished = 0;
  for (const [jobId] of Object.entries(await redis.hgetall(keys.redriveIntents)))
    if (await core.locked(jobId, (fence) => finishIntended(core, jobId, fence))) finished++;
  for (const held of await heldInstances(core.deps.queues.operations))
    if (await core.locked(String(held.id), (fence) => settleHold(core, held, fence))) finished++;
  return finished;
}

/** The redrive an intent names, finished under its lock; true if finished. */
async function finishIntended(core: LifecycleCore, jobId: string, fence: Fence): Promise<boolean> {
  const { queues, keys, redis } = core.deps;
  const intent = await redis.hget(keys.redriveIntents, jobId); // re-read inside the lock
  if (intent === null) return false;
  const job = await queues.operations.getJob(jobId);
  const entry = await queues.deadLetter.getJob(jobId);
  if (job && (await isInterruptedRedrive(core, job, entry))) {
    await finishRedrive(core, jobId, job, entry, fence);
    return true;
  }
  // The redrive died before adding its job (the entry stays in the DLQ, as if never redriven), or
  // after releasing it (only the intent was left): nothing more to do.
  await fence.write('HDEL', keys.redriveIntents, jobId);
  return false;
}

/**
 * A hold no intent names, under its lock: the held instance of the generation DynamoDB has open
 * (its DLQ entry still there) is released as its redrive would have; a stranded one is removed.
 * True if either.
 */
async function settleHold(core: LifecycleCore, held: Job, fence: Fence): Promise<boolean> {
  const { queues, records } = core.deps;
  const jobId = String(held.id);
  const job = await queues.operations.getJob(jobId);
  if (!job || job.timestamp !== held.timestamp) return false;
  const record = await retryTransient(() => records.get(jobId));
  const entry = await queues.deadLetter.getJob(jobId);
  const opened = record?.outcome === undefined && record?.genStartedAt === job.timestamp;
  // Its DLQ entry gone too: nothing is left for the hold to wait on.
  const releasable = entry ? isHeldForOpenGeneration(job, entry, record) : opened && job.delay === REDRIVE_HOLD_MS;
  if (releasable && (await job.getState()) === 'delayed') {
    await finishRedrive(core, jobId, job, entry, fence);
    return true;
  }
  if (!(await isStrandedHold(core, job, record))) return false;
  await core.removeInstance(queues.operations, job, fence);
  return true;
}

/** Held instances, found first among the delayed (a hold is due a day later than any backoff). */
async function heldInstances(queue: Queue): Promise<Job[]> {
  const held: Job[] = [];
  for (let start = 0; start < HELD_SCAN_LIMIT; start += HELD_PAGE) {
    const page = (await queue.getJobs(['delayed'], start, start + HELD_PAGE - 1, false)).filter(Boolean);
    const holds = page.filter((job) => job.delay === REDRIVE_HOLD_MS);
    held.push(...holds);
    if (holds.length < HELD_PAGE) break;
  }
  return held;
}
