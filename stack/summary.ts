// The live summary: this run's jobs (the ledger's enqueue records) and their outcomes (DynamoDB's job
// records, which decide them; not any worker's counters), the queues' counts, flow control, and the capacity limit's units, every few seconds.
// Beside it, whether Redis and DynamoDB still answer (BackendWatch).
import type { CapacityLimit, CapacityStats } from '../devtools/capacity-limit.js';
import type { FleetFlowView } from '../shared/flow/fleet-rate.js';
import type { Ledger, LedgerPosition } from '../shared/lifecycle/ledger.js';
import type { Queues } from '../shared/lifecycle/queues.js';
import type { DecidedOutcomes } from '../shared/operator/decided-outcomes.js';
import { paint, say } from './output.js';

export interface Tally {
  produced: number;
  completed: number;
  deadLettered: number;
}

/** How long the live summary and the drain check wait for Redis and DynamoDB before moving on. */
export const READ_DEADLINE_MS = 5000;

/**
 * How long a tally waits for the job records: less than READ_DEADLINE_MS, so a DynamoDB that does
 * not answer is said as DynamoDB's, not taken for a Redis that does not (what was read meanwhile is
 * kept by the reader for the next tally).
 */
const OUTCOMES_DEADLINE_MS = 3000;

/** One shard's queues and ledger, and where its ledger stood when this run began. */
export interface ShardView {
  queues: Queues;
  ledger: Ledger;
  /** The fleet's flow-control state for this shard. */
  readFlow(): Promise<FleetFlowView>;
  from: LedgerPosition;
  /** Where this run's jobs' outcomes are read (one reader for every shard: it keeps final ones). */
  decided: DecidedOutcomes;
}

/** The tally's outcomes could not be read from DynamoDB (Redis answered): said as DynamoDB's, not Redis's. */
export class OutcomesUnreadable extends Error {
  override name = 'OutcomesUnreadable';
}

/**
 * This run's jobs (the ledger's enqueue records) and the outcome each stands at in DynamoDB (not
 * any worker's counters), summed over the shards (one unless QUEUE_SHARDS > 1).
 */
export async function tally(shards: readonly ShardView[]): Promise<Tally> {
  const total: Tally = { produced: 0, completed: 0, deadLettered: 0 };
  for (const { ledger, from, decided } of shards) {
    const enqueued = await ledger.readEnqueued(from.enqueued);
    total.produced += enqueued.size;
    const outcomes = await withinDeadline(decided.of(enqueued.keys()), OUTCOMES_DEADLINE_MS).catch((error: Error) => {
      throw new OutcomesUnreadable(`job records unreadable: ${error.message}`, { cause: error });
    });
    for (const { outcome } of outcomes.values()) {
      if (outcome === 'completed') total.completed++;
      else if (outcome === 'dead-lettered') total.deadLettered++;
    }
  }
  return total;
}

function withinDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** Where the previous summary line left the capacity limit's counters. */
export interface CapacityMark {
  at: number;
  stats: CapacityStats;
}

/** The capacity limit since the previous line: units consumed per second and requests throttled. */
function capacitySince(limit: CapacityLimit, mark: CapacityMark) {
  const stats = limit.stats();
  const at = Date.now();
  const seconds = Math.max(0.001, (at - mark.at) / 1000);
  const perSecond = (units: number) => Math.round((units / seconds) * 10) / 10;
  const figures = {
    budgetUnitsPerSecond: limit.budget.writeUnitsPerSecond,
    readUnitsPerSecond: perSecond(stats.readUnits - mark.stats.readUnits),
    writeUnitsPerSecond: perSecond(stats.writeUnits - mark.stats.writeUnits),
    throttled: stats.throttled - mark.stats.throttled,
  };
  mark.at = at;
  mark.stats = stats;
  return figures;
}

/** Where the previous line left the rate, and the capacity limit's counters when there is one. */
export interface SummaryState {
  last: { t: number; done: number };
  capacity?: { limit: CapacityLimit; mark: CapacityMark };
}

/** Waiting, active and delayed jobs, summed over the shards, and the dead-letter queues' size. */
async function queueCounts(shards: readonly ShardView[]) {
  const perShard = await Promise.all(
    shards.map(({ queues }) => queues.operations.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
  );
  const counts: Record<string, number> = {};
  for (const c of perShard) for (const [state, n] of Object.entries(c)) counts[state] = (counts[state] ?? 0) + n;
  const dlq = (await Promise.all(shards.map(({ queues }) => queues.deadLetter.getWaitingCount()))).reduce(
    (a, b) => a + b,
    0,
  );
  return { counts, dlq };
}

/** The fleet's job rate when DynamoDB's throttling has flow control holding the queue back. */
async function heldBackByDynamo(shards: readonly ShardView[]) {
  // The slowest shard's limit: any shard held back by DynamoDB holds part of the work back.
  const flows = await Promise.all(shards.map((s) => s.readFlow()));
  const limited = flows.filter((f) => f.rate !== null);
  if (limited.length === 0) return null;
  return { jobsPerSecond: Math.min(...limited.map((f) => f.rate as number)), now: flows.some((f) => f.heldBack) };
}

/** One summary line's figures; moves `state` on to now. */
async function summaryLine(shards: readonly ShardView[], state: SummaryState) {
  const { counts, dlq } = await queueCounts(shards);
  const t = await tally(shards);
  const heldBack = await heldBackByDynamo(shards);
  const { last, capacity } = state;
  const now = performance.now();
  const done = t.completed + t.deadLettered;
  const rate = last.t > 0 ? ((done - last.done) * 1000) / (now - last.t) : 0;
  last.t = now;
  last.done = done;
  return {
    produced: t.produced,
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    completed: t.completed,
    deadLettered: t.deadLettered,
    dlqSize: dlq,
    jobsPerSecond: Math.round(rate * 10) / 10,
    heldBackByDynamo: heldBack,
    // Read and write units per second consumed, and requests throttled, since the previous line.
    ...(capacity ? { capacity: capacitySince(capacity.limit, capacity.mark) } : {}),
  };
}

/** Prints one summary line: JSON with --json, else a line for people. */
export async function summary(shards: readonly ShardView[], json: boolean, state: SummaryState): Promise<void> {
  const line = await summaryLine(shards, state);
  if (json) return say(JSON.stringify({ summary: line }));
  const c = line.capacity;
  const dynamo = c
    ? ` · DynamoDB ${c.readUnitsPerSecond} read + ${c.writeUnitsPerSecond} write units/s of ${c.budgetUnitsPerSecond} each, ` +
      `${c.throttled > 0 ? paint(31, String(c.throttled)) : '0'} throttled`
    : '';
  say(
    `produced ${line.produced} · waiting ${line.waiting} · active ${line.active} · retrying ${line.delayed} · ` +
      `completed ${paint(32, String(line.completed))} · dead-lettered ${paint(31, String(line.deadLettered))} · ${line.jobsPerSecond} jobs/s` +
      (line.heldBackByDynamo
        ? ` · ${paint(33, `held back by DynamoDB: ${line.heldBackByDynamo.jobsPerSecond} jobs/s`)}${line.heldBackByDynamo.now ? '' : ' (not reached)'}`
        : '') +
      dynamo,
  );
}

/**
 * Says when a backend stops answering, and keeps saying it on every summary with the time it went
 * down (a summary that merely looks quiet must not hide a dead backend), and when it is back.
 */
export class BackendWatch {
  private readonly downSince = new Map<string, Date>();

  constructor(private readonly json: boolean) {}

  report(name: string, where: string, up: boolean): void {
    const since = this.downSince.get(name);
    if (up) {
      if (!since) return;
      this.downSince.delete(name);
      const seconds = Math.round((Date.now() - since.getTime()) / 1000);
      if (this.json) say(JSON.stringify({ reachable: { backend: name, at: where, downSeconds: seconds } }));
      else say(`${name} at ${where} answers again, after ${seconds} s`);
      return;
    }
    const from = since ?? new Date();
    this.downSince.set(name, from);
    if (this.json) say(JSON.stringify({ unreachable: { backend: name, at: where, since: from.toISOString() } }));
    else say(paint(31, `${name} unreachable at ${where} since ${from.toISOString().slice(11, 19)} UTC`));
  }
}
