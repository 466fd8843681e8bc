// Purge: a dead-lettered job is deleted for good, decided in DynamoDB first (only a dead-lettered
// generation can be purged). The ledger's `purged` comes before the entry goes (the checker never
// sees the job in neither place without a reason); the dead instance, if a crashed move left it in
// the failed set, goes too, or the sweep would dead-letter it again.
import type { Job } from 'bullmq';
import { retryTransient } from '../../runtime/retry.js';
import type { JobOutcome, JobRecord } from '../../store/types.js';
import type { DeadLetterData } from '../dead-letter.js';
import { deadLetteredGeneration, JobBusyError, type OperatorCheck, type OperatorOutcome } from '../transition.js';
import type { LifecycleCore } from './core.js';
import { isHeldForOpenGeneration, isStrandedHold } from './redrive.js';

export function purge(core: LifecycleCore, jobId: string, check: OperatorCheck = {}): Promise<OperatorOutcome> {
  const { queues, keys, redis, records, ledger } = core.deps;
  return core.locked(jobId, async (fence) => {
    await core.probe('purge:locked', jobId);
    const entry = await queues.deadLetter.getJob(jobId);
    if (!entry) return 'not-found';
    const record = await retryTransient(() => records.get(jobId));
    if (record?.outcome === 'completed') return core.dropStaleEntry(entry, fence);
    // A plan's purge acts on the generation it saw dead-lettered, not on a later one (redrive.ts).
    if (check.gen !== undefined && deadLetteredGeneration(record) !== check.gen) return 'moved-on';
    const lingering = await queues.operations.getJob(jobId);
    const intent = await redis.hget(keys.redriveIntents, jobId);
    // Held by a redrive that stopped half-way: its intent names it, or (the sweep dropped the intent
    // of a redrive paused past its lock before its add) the generation DynamoDB opened does.
    const heldRedrive =
      lingering !== undefined &&
      (intent === String(lingering.timestamp) || isHeldForOpenGeneration(lingering, entry, record));
    if (lingering) {
      const state = await lingering.getState();
      const removable = state === 'failed' || (heldRedrive && state === 'delayed');
      if (!removable && !(await isStrandedHold(core, lingering, record))) throw new JobBusyError(jobId, state);
    }
    if (!(await retryTransient(() => records.purge(jobId, core.deps.actor)))) {
      const outcome = await purgeHeldRedrive(core, jobId, entry, heldRedrive);
      if (outcome === 'completed') return core.dropStaleEntry(entry, fence);
      if (outcome !== 'purged') throw new JobBusyError(jobId, outcome ?? busyReason(record, lingering));
    }
    await ledger.recordOutcome(jobId, 'purged', fence);
    if (lingering) await core.removeInstance(queues.operations, lingering, fence);
    if (intent !== null) await fence.write('HDEL', keys.redriveIntents, jobId);
    await core.removeInstance(queues.deadLetter, entry, fence);
    core.emit({ type: 'purged', jobId, op: entry.name });
    return 'done';
  });
}

/**
 * A purge of a redrive that died with its new instance still held: that generation is open in
 * DynamoDB, and its bars are lifted. It is barred and decided dead-lettered again (unless a stale
 * delivery of the old generation completed it meanwhile), then purged. Returns what stands.
 */
async function purgeHeldRedrive(
  core: LifecycleCore,
  jobId: string,
  entry: Job,
  held: boolean,
): Promise<JobOutcome | undefined> {
  const { records, effects, actor } = core.deps;
  const record = await retryTransient(() => records.get(jobId));
  if (record?.outcome || !held) return record?.outcome;
  // The bars were lifted: a delivery (a stale one of the old generation) may have linked the
  // effect since. A bar that finds it linked decides completed, as a move's does; never purged.
  const effect = await effects.bar(
    { id: jobId, name: entry.name, data: (entry.data as DeadLetterData).payload },
    record?.genStartedAt ?? 0,
  );
  const decision = await retryTransient(() =>
    records.decide(jobId, effect.applied ? 'completed' : 'dead-lettered', actor, {
      op: entry.name,
      reason: effect.applied ? 'its effect landed while its redrive was held' : 'purged while its redrive was held',
    }),
  );
  if (decision.outcome !== 'dead-lettered') return decision.outcome;
  return (await retryTransient(() => records.purge(jobId, actor)))
    ? 'purged'
    : (await retryTransient(() => records.get(jobId)))?.outcome;
}

/**
 * Why a purge finds a job's next generation open: a redrive that stopped before adding its instance
 * (none is there; a second redrive finishes it, then it can be purged), or one that ran.
 */
function busyReason(record: JobRecord | undefined, lingering: Job | undefined): string {
  return lingering === undefined && record?.genStartedAt !== undefined
    ? 'half-way through a redrive that stopped before adding its job (redrive it to finish that, then purge)'
    : 'running again (redriven)';
}
