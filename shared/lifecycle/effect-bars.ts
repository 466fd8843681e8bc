// What a dead-letter move does to a write job's effect before it decides: it bars the job from
// every user it targets (one conditional update of each user's head), so no delivery still running
// anywhere — a stale one, paused past its lock — can link the job's event afterwards. A bar that
// finds the job's event already linked says so instead: that part of the effect landed. A redrive
// lifts the bars before the job's next generation runs.
import { parseJob, writeTargets } from '../domain/payload.js';
import { retryTransient } from '../runtime/retry.js';
import type { Stores } from '../store/types.js';

/** What the move found out about a failed job's effect, with its bars in place. */
export interface EffectCheck {
  /** Every user the job targets has its event: the job is decided completed. */
  applied: boolean;
  /** For batches: which users landed and which did not (said in the dead-letter entry). */
  landed: string[];
  missing: string[];
}

export interface JobIdentity {
  id: string;
  name: string;
  data: unknown;
}

/** Whether the job's event on this user is part of the stream: named by the head, or flagged linked. */
export async function isLinked(stores: Pick<Stores, 'users' | 'events'>, jobId: string, userId: string) {
  const [head, event] = await Promise.all([stores.users.getHead(userId), stores.events.getByJob(userId, jobId)]);
  if (head?.recentJobs.includes(jobId)) return true;
  // Flagged before it leaves the window: read again if the head moved on between the two reads.
  return event?.linked === true || (await stores.events.getByJob(userId, jobId))?.linked === true;
}

export const NO_EFFECT: EffectCheck = { applied: false, landed: [], missing: [] };

function targetsOf(job: JobIdentity): string[] {
  try {
    return writeTargets(parseJob(job.name, job.data));
  } catch {
    return []; // poison: nothing can have been applied
  }
}

export class EffectBars {
  constructor(private readonly stores: Pick<Stores, 'users' | 'events'>) {}

  /**
   * Bars the job's `generation` (its start; 0 for the first) from each user it targets and says
   * which already had its event linked. A job
   * with no target (a read, a poison payload) has nothing to bar: its outcome record alone decides.
   */
  async bar(job: JobIdentity, generation: number): Promise<EffectCheck> {
    const targets = targetsOf(job);
    if (targets.length === 0) return NO_EFFECT;
    // The same DynamoDB trouble that failed the job may hit these calls: each is retried briefly.
    const landed = await Promise.all(
      targets.map((userId) => retryTransient(() => this.barOne(job.id, userId, generation))),
    );
    return {
      applied: landed.every(Boolean),
      landed: targets.filter((_, i) => landed[i]),
      missing: targets.filter((_, i) => !landed[i]),
    };
  }

  /** Lifts the job's bars (a redrive, before the new generation can run). */
  async unbar(job: JobIdentity): Promise<void> {
    await Promise.all(targetsOf(job).map((userId) => retryTransient(() => this.stores.users.unbar(userId, job.id))));
  }

  /** True when the job's event on this user is linked (landed). */
  private async barOne(jobId: string, userId: string, generation: number): Promise<boolean> {
    if ((await this.stores.users.bar(userId, jobId, generation)) === 'linked') return true;
    // Barred, so it can never be linked from now on. It may have been linked long before (out of
    // the head's window): such an event is flagged before it leaves the window, so one read says.
    return (await this.stores.events.getByJob(userId, jobId))?.linked === true;
  }
}
