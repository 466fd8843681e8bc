// The ledger checker: reads the final state straight from Redis and DynamoDB (never from the
// workers' counters) and says whether every enqueued job ended completed or dead-lettered, once.

import type { EpochState } from '../lifecycle/epoch.js';
import { compareStreamIds, type LedgerJob } from '../lifecycle/ledger.js';
import type { Queues } from '../lifecycle/queues.js';
import type { JobOutcome, Stores } from '../store/types.js';
import type { JobSystem } from '../wiring.js';
import { checkDecisions, type DecisionReport, UNFINISHED } from './check-decisions.js';
import { DecidedOutcomes } from './decided-outcomes.js';
import { readPendingWork } from './pending-work.js';
import { verifyProjection } from './replay.js';

export interface CheckReport {
  /** The ledger's window: jobs enqueued since then are checked ('0-0': since the start). */
  since: string;
  enqueued: number;
  completed: number;
  deadLettered: number;
  /** Dead-lettered, then deleted for good by an operator (djq dlq purge). */
  purged: number;
  /** Still waiting, active or retrying, or being added by the producer: not finished yet, not lost. */
  pending: number;
  /** Enqueued, yet neither finished, nor dead-lettered, nor anywhere in the queue. */
  lost: number;
  /** Jobs applied twice (two events for one job and user) plus jobs both completed and dead-lettered. */
  duplicated: number;
  projectionMismatches: number;
  /** Projection differences on users that unfinished jobs target (work in progress, not errors). */
  projectionPending: number;
  /** Dead-letter entries missing their reason or their attempts. */
  deadLettersWithoutReason: number;
  aggregates: number;
  events: number;
  /** What DynamoDB's job records say (every outcome each job had): see check-decisions.ts. */
  decisions: DecisionReport;
  /** Per shard: 'ok' when its Redis and the table belong together (epoch.ts), else why not. */
  epochs: EpochState['state'][];
  faults: Record<string, unknown>;
  examples: { lost: string[]; duplicated: string[]; mismatched: string[] };
}

/**
 * Correct on a live stack too. Each job's records are written in an order the reads follow: its
 * `completed` decision (DynamoDB) before it leaves the queue, its DLQ entry before its failed
 * instance goes, a redriven instance before its DLQ entry goes, `purged` before the entry goes, a
 * stalled dead letter's `completed` before its entry goes. So a job the first reads see nowhere is
 * looked for again (its record, the DLQ, the queue); only then is it lost, unless its producer has
 * not finished adding it (its ledger record is not committed yet). One seen in both places is
 * looked for again in the DLQ; only then is it both.
 */
export async function checkLedger(deps: {
  system: Pick<JobSystem, 'ledger' | 'queues' | 'stores'>;
  faults?: Record<string, unknown>;
  /** Test-only: runs between the first reads and the queue-state checks (jobs finish meanwhile). */
  afterFirstReads?: () => Promise<void>;
}): Promise<CheckReport> {
  return checkShards({
    shards: [deps.system],
    stores: deps.system.stores,
    ...(deps.faults ? { faults: deps.faults } : {}),
    ...(deps.afterFirstReads ? { afterFirstReads: deps.afterFirstReads } : {}),
  });
}

/** A shard as the checker reads it; with `checkEpoch`, whether its Redis and the table belong together. */
type ShardView = Pick<JobSystem, 'ledger' | 'queues'> & Partial<Pick<JobSystem, 'checkEpoch'>>;

/** What one shard's first reads found (its ledger window, enqueued jobs, their decided outcomes, DLQ). */
interface ShardReads {
  shard: ShardView;
  decided: DecidedOutcomes;
  window: string;
  enqueued: Map<string, LedgerJob>;
  outcomes: Map<string, JobOutcome>;
  dlq: Map<string, DeadLetterSummary>;
}

/** What one shard's jobs came to; summed over the shards into the report. */
interface ShardTally {
  enqueued: number;
  completed: number;
  pending: number;
  purged: number;
  deadLettered: number;
  deadLettersWithoutReason: number;
  lost: string[];
  /** Seen completed and dead-lettered, still after a second look. */
  both: string[];
}

/**
 * Every shard of a sharded queue, as one queue: each shard's ledger is checked against its own
 * queues and DLQ (a job lives in one shard all its life), the projection once, with the pending
 * work of every shard explaining differences.
 */
export async function checkShards(deps: {
  shards: readonly ShardView[];
  stores: Pick<Stores, 'events' | 'users' | 'jobs'>;
  faults?: Record<string, unknown>;
  /** Test-only: runs between the first reads and the queue-state checks (jobs finish meanwhile). */
  afterFirstReads?: () => Promise<void>;
}): Promise<CheckReport> {
  const reads: ShardReads[] = [];
  const decided = new DecidedOutcomes(deps.stores.jobs);
  for (const shard of deps.shards) reads.push(await firstReads(shard, decided));
  const verify = await verifyProjection(deps.stores.events, deps.stores.users, () =>
    readPendingWork(deps.shards.map((s) => s.queues)),
  );
  await deps.afterFirstReads?.();
  const tallies: ShardTally[] = [];
  for (const read of reads) tallies.push(await checkShard(read));
  const sum = (pick: (t: ShardTally) => number) => tallies.reduce((total, t) => total + pick(t), 0);
  const lost = tallies.flatMap((t) => t.lost);
  const duplicated = verify.duplicateEvents.map((d) => d.jobId).concat(tallies.flatMap((t) => t.both));
  // The latest window of any shard: from then on every shard's streams hold every record.
  const window = reads.map((r) => r.window).reduce((a, b) => (compareStreamIds(a, b) >= 0 ? a : b), '0-0');
  const decisions = await checkDecisions(
    deps.stores,
    deps.shards.map((s) => s.queues),
  );
  // Redis and DynamoDB of two different runs (or a Redis that lost its data) make every figure
  // above meaningless: said, and the check fails.
  const epochs = await Promise.all(deps.shards.map(async (s) => (await s.checkEpoch?.())?.state ?? 'ok'));
  return {
    since: window === '0-0' ? 'start' : new Date(Number(window.split('-')[0])).toISOString(),
    enqueued: sum((t) => t.enqueued),
    completed: sum((t) => t.completed),
    deadLettered: sum((t) => t.deadLettered),
    purged: sum((t) => t.purged),
    pending: sum((t) => t.pending),
    lost: lost.length,
    duplicated: duplicated.length,
    projectionMismatches: verify.mismatches.length,
    projectionPending: verify.explained.length,
    deadLettersWithoutReason: sum((t) => t.deadLettersWithoutReason),
    decisions,
    epochs,
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

async function firstReads(shard: ShardView, decided: DecidedOutcomes): Promise<ShardReads> {
  const { ledger, queues } = shard;
  const window = await ledger.checkWindow();
  const enqueued = await ledger.readEnqueued(window);
  // Outcomes (DynamoDB's job records, which decide them) before the DLQ: a redriven job's record
  // is reopened before its new instance is added, and its entry leaves the DLQ after that.
  const outcomes = await outcomesOf(decided, enqueued.keys());
  return { shard, decided, window, enqueued, outcomes, dlq: await readDeadLetters(queues) };
}

/** The outcome standing now for each job that has one. */
async function outcomesOf(decided: DecidedOutcomes, jobIds: Iterable<string>): Promise<Map<string, JobOutcome>> {
  return new Map([...(await decided.of(jobIds))].map(([id, d]) => [id, d.outcome]));
}

/** One shard's enqueued jobs against its outcomes, DLQ and queue, looked at again where unsettled. */
async function checkShard(read: ShardReads): Promise<ShardTally> {
  const { shard, enqueued, outcomes, dlq } = read;
  const tally: ShardTally = {
    enqueued: enqueued.size,
    completed: 0,
    pending: 0,
    purged: 0,
    deadLettered: 0,
    deadLettersWithoutReason: 0,
    lost: [],
    both: [],
  };
  const unseen: string[] = [];
  const seenBoth: string[] = [];
  for (const id of enqueued.keys()) {
    const done = outcomes.get(id) === 'completed';
    const dead = dlq.has(id);
    if (done) tally.completed++;
    if (done && dead) seenBoth.push(id);
    if (done || dead) continue;
    if (outcomes.get(id) === 'purged') {
      tally.purged++;
      continue;
    }
    if (UNFINISHED.has(await shard.queues.operations.getJobState(id))) tally.pending++;
    else unseen.push(id);
  }
  if (unseen.length > 0) await settleUnseen(read, unseen, tally);
  if (seenBoth.length > 0) await settleBoth(read, seenBoth, tally);
  tally.deadLettered = [...dlq.keys()].filter((id) => enqueued.has(id)).length;
  tally.deadLettersWithoutReason = [...dlq.values()].filter(
    (d) => !d.reason || !Array.isArray(d.attempts) || d.attempts.length === 0,
  ).length;
  return tally;
}

/** Jobs that finished between the first reads and their state check. */
async function settleUnseen({ shard, decided, dlq }: ShardReads, unseen: string[], tally: ShardTally) {
  const { ledger, queues } = shard;
  // The producer writes its ledger record before its addBulk: a job of a record still uncommitted
  // now may not have reached Redis when we looked. Read before the rest: if its record is
  // committed by now, the job was in Redis before the reads below, so they see where it went.
  const inFlight = new Set((await ledger.uncommitted())?.jobs.map((j) => j.id));
  const later = await outcomesOf(decided, unseen);
  const laterDlq = await readDeadLetters(queues);
  for (const id of unseen) {
    const outcome = later.get(id);
    if (outcome === 'completed') tally.completed++;
    else if (outcome === 'purged') tally.purged++;
    else if (laterDlq.has(id)) dlq.set(id, laterDlq.get(id) ?? {});
    else if (UNFINISHED.has(await queues.operations.getJobState(id)) || inFlight.has(id)) tally.pending++;
    else tally.lost.push(id);
  }
}

/**
 * Decided completed and seen in the DLQ: the DLQ read again. A stalled dead letter settled as
 * completed is decided before its entry leaves the DLQ; an entry that stays is one DynamoDB
 * contradicts (a move paused past its lock). `completed` is final: no later decision undoes it.
 */
async function settleBoth({ shard, dlq }: ShardReads, seenBoth: string[], tally: ShardTally) {
  const nowDlq = await readDeadLetters(shard.queues);
  for (const id of seenBoth) {
    if (!nowDlq.has(id)) dlq.delete(id);
    else tally.both.push(id);
  }
}

interface DeadLetterSummary {
  reason?: string;
  attempts?: unknown[];
}

async function readDeadLetters(queues: Queues): Promise<Map<string, DeadLetterSummary>> {
  const jobs = await queues.deadLetter.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1, true);
  return new Map(jobs.filter(Boolean).map((j) => [String(j.id), j.data as DeadLetterSummary]));
}

export function checkPassed(report: CheckReport): boolean {
  return (
    report.lost === 0 &&
    report.duplicated === 0 &&
    report.projectionMismatches === 0 &&
    report.deadLettersWithoutReason === 0 &&
    report.decisions.undecidedNotInRedis === 0 &&
    report.decisions.twoOutcomes === 0 &&
    report.decisions.deadLetteredWithEffect === 0 &&
    report.decisions.completedWithoutEffect === 0 &&
    report.epochs.every((e) => e === 'ok')
  );
}
