// The checker's DynamoDB half: every job's record, read with every outcome it ever had (its marks,
// not only the last), against the effects in the event store and what Redis still holds. Redis is
// a cache of work here: an accepted job with no outcome that no Redis queue holds is not lost for
// good, it is what `djq recover` brings back, and the check fails until it does.
import { parseJob, writeTargets } from '../domain/payload.js';
import { isLinked } from '../lifecycle/effect-bars.js';
import type { Queues } from '../lifecycle/queues.js';
import type { JobRecord, OutcomeMark, Stores } from '../store/types.js';

export interface DecisionReport {
  /** Job records read (accepted jobs, and decided ones). */
  records: number;
  /** Accepted, no outcome yet, and held by a Redis queue: running or waiting. */
  undecided: number;
  /** Accepted, no outcome, and in no Redis queue: Redis lost it (`djq recover` re-adds it). */
  undecidedNotInRedis: number;
  /** A generation with two outcomes (completed and dead-lettered): never allowed. */
  twoOutcomes: number;
  /** Dead-lettered or purged, with its whole effect applied. */
  deadLetteredWithEffect: number;
  /** Completed create, update or batch whose event is not part of its user's stream. */
  completedWithoutEffect: number;
  examples: string[];
}

/** A report of nothing read yet: every count 0, no examples. */
export function emptyDecisionReport(): DecisionReport {
  return {
    records: 0,
    undecided: 0,
    undecidedNotInRedis: 0,
    twoOutcomes: 0,
    deadLetteredWithEffect: 0,
    completedWithoutEffect: 0,
    examples: [],
  };
}

/** BullMQ states a job is in while it has not finished (failed: on its way to the DLQ). */
export const UNFINISHED = new Set([
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'paused',
  'waiting-children',
  'failed',
]);
const CONCURRENCY = 32;

/** How many generations had both a completed and a dead-lettered decision. */
export function generationsWithTwoOutcomes(marks: readonly OutcomeMark[]): number {
  let twice = 0;
  let decided = new Set<string>();
  for (const mark of [...marks, { outcome: 'redriven' } as const]) {
    if (mark.outcome === 'redriven') {
      if (decided.has('completed') && decided.has('dead-lettered')) twice++;
      decided = new Set();
    } else decided.add(mark.outcome);
  }
  return twice;
}

export async function checkDecisions(
  stores: Pick<Stores, 'jobs' | 'users' | 'events'>,
  shards: readonly Queues[],
): Promise<DecisionReport> {
  const report = emptyDecisionReport();
  const flag = (jobId: string, problem: string) => {
    if (report.examples.length < 5) report.examples.push(`${jobId}: ${problem}`);
  };
  let batch: JobRecord[] = [];
  const drain = async () => {
    await Promise.all(batch.map((record) => checkOne(record)));
    batch = [];
  };
  const checkOne = async (record: JobRecord) => {
    report.records++;
    if (generationsWithTwoOutcomes(record.marks) > 0) {
      report.twoOutcomes++;
      flag(record.jobId, 'completed and dead-lettered in one generation');
    }
    if (!record.outcome) {
      if (await inRedis(shards, record.jobId)) report.undecided++;
      // Decided since the scan read it (and left Redis): not missing.
      else if ((await stores.jobs.get(record.jobId))?.outcome === undefined) {
        report.undecidedNotInRedis++;
        flag(record.jobId, 'accepted, undecided, and in no Redis queue (run djq recover)');
      }
      return;
    }
    const job = record.accepted;
    if (!job) return; // decided without an acceptance record (a table of an earlier release)
    const targets = targetsOf(job.name, job.data);
    if (targets.length === 0) return;
    const linked = await Promise.all(targets.map((userId) => isLinked(stores, record.jobId, userId)));
    if (record.outcome !== 'completed' && linked.every(Boolean)) {
      report.deadLetteredWithEffect++;
      flag(record.jobId, `${record.outcome} with its effect applied`);
    }
    if (record.outcome === 'completed' && job.name !== 'delete-user' && !linked.every(Boolean)) {
      report.completedWithoutEffect++;
      flag(record.jobId, 'completed without its effect');
    }
  };
  for await (const record of stores.jobs.scanAll()) {
    batch.push(record);
    if (batch.length >= CONCURRENCY) await drain();
  }
  await drain();
  return report;
}

function targetsOf(name: string, data: unknown): string[] {
  try {
    return writeTargets(parseJob(name, data));
  } catch {
    return [];
  }
}

async function inRedis(shards: readonly Queues[], jobId: string): Promise<boolean> {
  for (const queues of shards) {
    if (UNFINISHED.has(await queues.operations.getJobState(jobId))) return true;
    if (await queues.deadLetter.getJob(jobId)) return true;
  }
  return false;
}
