// The ledger checker: reads the final state straight from Redis and DynamoDB (never from the
// workers' counters) and says whether every enqueued job ended completed or dead-lettered, once.
import type { Ledger } from '../lifecycle/ledger.js';
import type { Queues } from '../lifecycle/queues.js';
import type { Stores } from '../store/types.js';
import { verifyProjection } from './replay.js';

export interface CheckReport {
  /** The ledger's window: jobs enqueued since then are checked ('0-0': since the start). */
  since: string;
  enqueued: number;
  completed: number;
  deadLettered: number;
  /** Dead-lettered, then deleted for good by an operator (djq dlq purge). */
  purged: number;
  /** Still waiting, active or retrying: not finished yet, not lost. */
  pending: number;
  /** Enqueued, yet neither finished, nor dead-lettered, nor anywhere in the queue. */
  lost: number;
  /** Jobs applied twice (two events for one job and user) plus jobs both completed and dead-lettered. */
  duplicated: number;
  projectionMismatches: number;
  /** Dead-letter entries missing their reason or their attempts. */
  deadLettersWithoutReason: number;
  aggregates: number;
  events: number;
  faults: Record<string, unknown>;
  examples: { lost: string[]; duplicated: string[]; mismatched: string[] };
}

export async function checkLedger(deps: {
  ledger: Ledger;
  queues: Queues;
  stores: Stores;
  faults?: Record<string, unknown>;
}): Promise<CheckReport> {
  const { ledger, queues, stores } = deps;
  const window = await ledger.checkWindow();
  const [enqueued, outcomes, verify] = await Promise.all([
    ledger.readEnqueued(window),
    ledger.readOutcomes(),
    verifyProjection(stores.events, stores.users),
  ]);
  const dlqJobs = await queues.deadLetter.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1, true);
  const dlq = new Map(
    dlqJobs.filter(Boolean).map((j) => [String(j.id), j.data as { reason?: string; attempts?: unknown[] }]),
  );

  let completed = 0;
  let pending = 0;
  let purged = 0;
  const lost: string[] = [];
  const both: string[] = [];
  for (const id of enqueued.keys()) {
    const done = outcomes.get(id) === 'completed';
    const dead = dlq.has(id);
    if (done) completed++;
    if (done && dead) both.push(id);
    if (done || dead) continue;
    if (outcomes.get(id) === 'purged') {
      purged++;
      continue;
    }
    const state = await queues.operations.getJobState(id);
    if (['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed'].includes(state)) pending++;
    else lost.push(id);
  }
  const deadLettered = [...dlq.keys()].filter((id) => enqueued.has(id)).length;
  const deadLettersWithoutReason = [...dlq.values()].filter(
    (d) => !d.reason || !Array.isArray(d.attempts) || d.attempts.length === 0,
  ).length;
  const duplicated = verify.duplicateEvents.map((d) => d.jobId).concat(both);
  return {
    since: window === '0-0' ? 'start' : new Date(Number(window.split('-')[0])).toISOString(),
    enqueued: enqueued.size,
    completed,
    deadLettered,
    purged,
    pending,
    lost: lost.length,
    duplicated: duplicated.length,
    projectionMismatches: verify.mismatches.length,
    deadLettersWithoutReason,
    aggregates: verify.aggregates,
    events: verify.events,
    faults: deps.faults ?? {},
    examples: {
      lost: lost.slice(0, 5),
      duplicated: duplicated.slice(0, 5),
      mismatched: verify.mismatches.slice(0, 5).map((m) => `${m.userId}: ${m.problem}`),
    },
  };
}

export function checkPassed(report: CheckReport): boolean {
  return (
    report.lost === 0 &&
    report.duplicated === 0 &&
    report.projectionMismatches === 0 &&
    report.deadLettersWithoutReason === 0
  );
}
