// The work still in the operations queue, by the user it targets: what explains a projection that
// is behind its events (or ahead of a scan) while jobs are waiting, delayed, active or failing.
import type { JobType } from 'bullmq';
import { pendingTargets } from '../domain/payload.js';
import type { Queues } from '../lifecycle/queues.js';

/** userId → ids of jobs not finished yet that may write that user. */
export type PendingWork = Map<string, string[]>;

const UNFINISHED: JobType[] = ['waiting', 'active', 'delayed', 'prioritized', 'failed'];

/** The pending work of one queue, or of every shard of a sharded one. */
export async function readPendingWork(queues: Queues | readonly Queues[]): Promise<PendingWork> {
  const pending: PendingWork = new Map();
  const shards: readonly Queues[] = Array.isArray(queues) ? queues : [queues as Queues];
  const jobs = (await Promise.all(shards.map((q) => q.operations.getJobs(UNFINISHED, 0, -1, true)))).flat();
  for (const job of jobs) {
    if (!job) continue;
    for (const userId of pendingTargets(job.name, job.data)) {
      pending.set(userId, [...(pending.get(userId) ?? []), String(job.id)]);
    }
  }
  return pending;
}

/** Both reads together: a job seen unfinished by either one explains a difference seen between them. */
export function mergePendingWork(a: PendingWork, b: PendingWork): PendingWork {
  const merged: PendingWork = new Map(a);
  for (const [userId, ids] of b) merged.set(userId, [...new Set([...(merged.get(userId) ?? []), ...ids])]);
  return merged;
}
