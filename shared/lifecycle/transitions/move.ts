// The dead-letter move: a job of the failed set is settled as DynamoDB decides it — the outcome
// that stands, else dead-lettered (or completed when its bars find the effect landed) — and then
// Redis follows, under the job id's lock, on the very instance that failed.
import type { Job } from 'bullmq';
import { retryTransient } from '../../runtime/retry.js';
import { StaleGenerationError } from '../../store/errors.js';
import type { JobOutcome, JobRecord } from '../../store/types.js';
import { buildDeadLetterData, type DeadLetterData } from '../dead-letter.js';
import type { EffectCheck } from '../effect-bars.js';
import { refOf, type SettleOutcome } from '../transition.js';
import type { Fence } from '../transition-lock.js';
import type { LifecycleCore } from './core.js';
import { finishRedrive, isInterruptedRedrive } from './redrive.js';

interface Decided {
  outcome: JobOutcome;
  /** This call decided (else it follows an earlier decision). */
  won: boolean;
  effect: EffectCheck;
}

export async function settle(
  core: LifecycleCore,
  job: Job,
  barEffect: (generation: number) => Promise<EffectCheck>,
): Promise<SettleOutcome> {
  const jobId = String(job.id);
  const decided = await decideFailed(core, job, barEffect);
  if (!decided) return 'gone';
  return core.locked(jobId, async (fence) => {
    await core.probe('move:locked', jobId);
    const { queues } = core.deps;
    const current = await queues.operations.getJob(jobId);
    if (!current || current.timestamp !== job.timestamp || (await current.getState()) !== 'failed') return 'gone';
    const entry = await queues.deadLetter.getJob(jobId);
    if (entry && (await isInterruptedRedrive(core, current, entry))) {
      // The entry is from before an interrupted redrive that released this very instance.
      await finishRedrive(core, jobId, current, entry, fence);
    }
    return decided.outcome === 'dead-lettered'
      ? followDeadLettered(core, current, decided, fence)
      : followOtherwise(core, current, decided, fence);
  });
}

/**
 * The DynamoDB half: the generation's outcome if decided before (a delivery recorded it completed,
 * then lost its ack; a move that crashed half-way), else decided now, after barring the job from
 * its users. Undefined for an instance of an earlier generation (a sweep's stale page).
 */
async function decideFailed(
  core: LifecycleCore,
  job: Job,
  barEffect: (generation: number) => Promise<EffectCheck>,
): Promise<Decided | undefined> {
  const { records, actor } = core.deps;
  const jobId = String(job.id);
  const record = await retryTransient(() => records.get(jobId));
  if (job.timestamp < (record?.genStartedAt ?? 0)) return undefined;
  if (record?.outcome) return { outcome: record.outcome, won: false, effect: await effectOf(core, record) };
  // Bars tagged with the generation read: if a redrive opens the next one meanwhile, these are not its.
  const effect = await barEffect(record?.genStartedAt ?? 0);
  const reason = job.failedReason || 'unknown';
  let decision: Awaited<ReturnType<typeof records.decide>>;
  try {
    // Only the generation read above: a redrive may have opened the next one while this move was
    // paused (its bars and the record read are not one step), and that one has not failed.
    decision = await retryTransient(() =>
      records.decide(jobId, effect.applied ? 'completed' : 'dead-lettered', actor, {
        op: job.name,
        reason,
        gen: record?.gen ?? 1,
      }),
    );
  } catch (error) {
    if (error instanceof StaleGenerationError) return undefined;
    throw error;
  }
  return { outcome: decision.outcome, won: decision.won, effect };
}

/** A decided job's effect as its move found it (a batch's landed users are in its DLQ entry). */
async function effectOf(core: LifecycleCore, record: JobRecord): Promise<EffectCheck> {
  const entry = await core.deps.queues.deadLetter.getJob(record.jobId);
  const data = entry?.data as DeadLetterData | undefined;
  return { applied: false, landed: data?.landed ?? [], missing: data?.missing ?? [] };
}

/** Completed (or purged meanwhile): the failed instance goes (DynamoDB's record says completed). */
async function followOtherwise(
  core: LifecycleCore,
  current: Job,
  decided: Decided,
  fence: Fence,
): Promise<SettleOutcome> {
  await core.removeFailed(current, fence);
  if (decided.outcome === 'purged') return 'gone';
  const note = decided.won
    ? 'its effect had landed before it failed: settled as completed'
    : 'it was decided completed before it failed (its ack was lost): settled as completed';
  core.emit({ type: 'settled-completed', ...refOf(current), attempts: current.attemptsMade, note });
  return 'completed';
}

/** Dead-lettered: the DLQ entry (unless a crashed move added it), the ledger, then the instance goes. */
async function followDeadLettered(
  core: LifecycleCore,
  current: Job,
  decided: Decided,
  fence: Fence,
): Promise<SettleOutcome> {
  const { queues, ledger } = core.deps;
  const jobId = String(current.id);
  const { logs } = await queues.operations.getJobLogs(jobId, 0, -1, true);
  const data = buildDeadLetterData(current, logs, decided.effect);
  // Said by the move that adds the entry: the one that decided may have died before it (a repeat
  // then follows its decision and must say it), and a repeat after the entry says nothing again.
  const adding = !(await queues.deadLetter.getJob(jobId));
  if (adding) {
    await fence();
    await queues.deadLetter.add(current.name, data, { jobId });
  }
  await core.probe('move:dead-letter-added', jobId);
  await ledger.recordOutcome(jobId, 'dead-lettered', fence);
  await core.removeFailed(current, fence);
  if (!adding) return 'dead-lettered'; // a repeat of a move that crashed after its entry: said once
  core.emit(
    {
      type: 'dead-lettered',
      ...refOf(current),
      reason: data.reason,
      attempts: data.attemptsMade,
      ...(data.landed ? { landed: data.landed, missing: data.missing ?? [] } : {}),
    },
    data.deadLetteredAt,
  );
  return 'dead-lettered';
}
