// Bulk DLQ actions done safely, for `djq dlq redrive|purge --where…` and the console page: select
// entries by reason, error, operation, user, generation and time; a dry run first (the count, a
// sample, the reasons grouped, and a warning for reasons a redrive cannot cure); then the action
// one job at a time at a bounded rate, with progress, cancel and resume. The plan names each job
// with the generation it saw dead-lettered, and each job's redrive or purge refuses a job whose
// generation moved on (checked under its lock): a poison job redriven by an earlier run is back in
// the DLQ within milliseconds, and a resumed or repeated run must not redrive it again. The plan
// and each job's result are kept in Redis (dlq-actions.ts), so an interrupted action is resumed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeadLetterEntry } from '../lifecycle/dead-letter.js';
import { deadLetteredGeneration } from '../lifecycle/job-lifecycle.js';
import { usersOf } from '../store/job-index.js';
import type { JobRecord, JobRecordStore } from '../store/types.js';
import {
  type DlqActionLease,
  DlqActionLeaseLostError,
  DlqActionNotFoundError,
  type DlqActionRecord,
  DlqActionRunningError,
  type DlqActionStore,
  type DlqWhere,
  isSettled,
  type PlannedJob,
  progressOf,
} from './dlq-actions.js';
import type { DlqActionReport, DlqConsole } from './dlq-console.js';
import type { JobFilter } from './job-search.js';

export type { DlqWhere, PlannedJob } from './dlq-actions.js';

export interface ReasonGroup {
  errorClass: string;
  /** The reason of the first entry of the group, as an example. */
  example: string;
  count: number;
  /** False when the last attempt's error is not retryable: the job will fail the same way again. */
  retryable: boolean;
}

export interface DlqPlan {
  action: 'redrive' | 'purge';
  count: number;
  jobIds: string[];
  /** Each job with the generation the plan saw dead-lettered: the run acts on that one only. */
  jobs: PlannedJob[];
  sample: DeadLetterEntry[];
  reasons: ReasonGroup[];
  warnings: string[];
}

export interface BulkOptions {
  /** Jobs per second at most. @default DLQ_ACTION_RATE_PER_SEC (10) */
  ratePerSecond?: number;
  onProgress?: (progress: { done: number; total: number; jobId: string }) => void;
  /** Stops before the next job when aborted; the report says how far it got. */
  signal?: AbortSignal;
}

export interface BulkReport extends DlqActionReport {
  /** The persisted action: `djq dlq redrive --resume <actionId>`, or the console's Resume. */
  actionId: string;
  total: number;
  cancelled: boolean;
  /** Jobs an earlier run of this action had settled already (skipped by this one). */
  resumed: number;
}

/** What a bulk runner works with. */
export interface BulkDeps {
  dlq: DlqConsole;
  records: Pick<JobRecordStore, 'getMany'>;
  actions: DlqActionStore;
}

export const DEFAULT_RATE_PER_SECOND = 10;
const SAMPLE_SIZE = 5;

const lastAttempt = (e: DeadLetterEntry) => e.attempts.at(-1);
const errorClassOf = (e: DeadLetterEntry) => lastAttempt(e)?.errorClass ?? e.reason.split(':')[0] ?? 'unknown';
const includes = (text: string, needle: string) => text.toLowerCase().includes(needle.toLowerCase());

/** Whether an entry matches; `record` is the job's DynamoDB record (user and generation are read there). */
export function matchesWhere(entry: DeadLetterEntry, where: DlqWhere, record?: JobRecord): boolean {
  if (where.jobIds && !where.jobIds.includes(entry.jobId)) return false;
  if (where.reason && !includes(entry.reason, where.reason)) return false;
  if (where.errorClass && errorClassOf(entry).toLowerCase() !== where.errorClass.toLowerCase()) return false;
  if (where.error !== undefined && !matchesError(entry, where.error)) return false;
  if (where.op && entry.name !== where.op) return false;
  if (where.from && entry.deadLetteredAt < where.from) return false;
  if (where.to && entry.deadLetteredAt > where.to) return false;
  if (where.gen !== undefined && deadLetteredGeneration(record) !== where.gen) return false;
  if (where.user !== undefined) {
    const accepted = record?.accepted ?? { name: entry.name, data: entry.payload };
    if (!usersOf(accepted.name, accepted.data).includes(where.user)) return false;
  }
  return true;
}

function matchesError(entry: DeadLetterEntry, needle: string): boolean {
  return (
    includes(entry.reason, needle) ||
    entry.attempts.some((a) => includes(a.errorClass, needle) || includes(a.message, needle))
  );
}

/**
 * A search's filter (job-search.ts) as a DLQ selection, for "Redrive these" on a search of
 * dead-lettered jobs: the same user, operation, error text, generation and time (a dead-lettered
 * job's decision time is its move's), or the one job id. The state is implied: the DLQ holds the
 * dead-lettered.
 */
export function whereOfSearch(filter: Omit<JobFilter, 'state'>): DlqWhere {
  return {
    ...(filter.jobId !== undefined ? { jobIds: [filter.jobId] } : {}),
    ...(filter.userId !== undefined ? { user: filter.userId } : {}),
    ...(filter.op !== undefined ? { op: filter.op } : {}),
    ...(filter.error !== undefined ? { error: filter.error } : {}),
    ...(filter.gen !== undefined ? { gen: filter.gen } : {}),
    ...(filter.from !== undefined ? { from: filter.from } : {}),
    ...(filter.to !== undefined ? { to: filter.to } : {}),
  };
}

/** The dry run: what an action on `where` would touch, without touching it. */
export async function planDlqAction(
  deps: Pick<BulkDeps, 'dlq' | 'records'>,
  action: 'redrive' | 'purge',
  where: DlqWhere,
): Promise<DlqPlan> {
  const listed = (await deps.dlq.list()).filter((e) => matchesWhere(e, { ...where, user: undefined, gen: undefined }));
  // DynamoDB's records give each job's generation (and its users): one BatchGetItem per 50 jobs.
  const records = new Map((await deps.records.getMany(listed.map((e) => e.jobId))).map((r) => [r.jobId, r]));
  const entries = listed.filter((e) => matchesWhere(e, where, records.get(e.jobId)));
  const reasons = groupReasons(entries);
  const warnings =
    action === 'redrive'
      ? reasons
          .filter((g) => !g.retryable)
          .map(
            (g) =>
              `${g.count} job(s) failed with ${g.errorClass}, which is not retryable: a redrive runs them again and they will fail the same way (fix the cause, or purge them)`,
          )
      : [];
  return {
    action,
    count: entries.length,
    jobIds: entries.map((e) => e.jobId),
    jobs: entries.map((e) => {
      const gen = deadLetteredGeneration(records.get(e.jobId));
      return gen === undefined ? { jobId: e.jobId } : { jobId: e.jobId, gen };
    }),
    sample: entries.slice(0, SAMPLE_SIZE),
    reasons,
    warnings,
  };
}

function groupReasons(entries: readonly DeadLetterEntry[]): ReasonGroup[] {
  const groups = new Map<string, ReasonGroup>();
  for (const entry of entries) {
    const errorClass = errorClassOf(entry);
    const retryable = lastAttempt(entry)?.retryable ?? true;
    const key = `${errorClass}\u0000${retryable}`;
    const group = groups.get(key) ?? { errorClass, example: entry.reason, count: 0, retryable };
    group.count++;
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

/** Keeps a plan in Redis as an action to run (or resume): its id. */
export function saveDlqAction(
  deps: Pick<BulkDeps, 'actions'>,
  plan: DlqPlan,
  options: { where: DlqWhere; by: string; ratePerSecond?: number },
): Promise<string> {
  return deps.actions.create({
    action: plan.action,
    where: options.where,
    jobs: plan.jobs,
    by: options.by,
    createdAt: new Date().toISOString(),
    ratePerSecond: options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND,
  });
}

/**
 * Runs a saved action (or resumes one that stopped): one job at a time, at most `ratePerSecond`,
 * skipping the jobs an earlier run settled. Refused while another process runs it.
 */
export async function runDlqAction(deps: BulkDeps, actionId: string, options: BulkOptions = {}): Promise<BulkReport> {
  const lease = await deps.actions.acquireLease(actionId);
  if (!lease) throw new DlqActionRunningError(actionId);
  try {
    const action = await deps.actions.get(actionId);
    if (!action) throw new DlqActionNotFoundError(actionId);
    await deps.actions.markRunning(actionId);
    const resumed = countSettled(action); // before this run adds to its progress
    const cancelled = await runJobs(deps, action, lease, options);
    await lease.end(cancelled ? 'cancelled' : 'finished');
    return reportOf((await deps.actions.get(actionId)) ?? action, cancelled, resumed);
  } catch (error) {
    await lease.end('failed', (error as Error).message).catch(() => undefined);
    throw error;
  }
}

const countSettled = (action: DlqActionRecord) =>
  action.plan.jobs.filter((j) => isSettled(action.progress.get(j.jobId))).length;

/** The loop of one run: true when it stopped early (aborted, or a cancel asked for from anywhere). */
async function runJobs(
  deps: BulkDeps,
  action: DlqActionRecord,
  lease: DlqActionLease,
  options: BulkOptions,
): Promise<boolean> {
  const { plan, progress } = action;
  const interval = 1000 / Math.max(0.001, options.ratePerSecond ?? plan.ratePerSecond);
  const total = plan.jobs.length;
  let settled = countSettled(action);
  let next = Date.now();
  for (const { jobId, gen } of plan.jobs) {
    if (isSettled(progress.get(jobId))) continue; // done by an earlier run, or found moved on
    if (options.signal?.aborted) return true;
    // A rate limit, not a wait for anything: spaces the transitions so a bulk redrive does not
    // flood the workers (and DynamoDB behind them) with a burst of retried jobs.
    const wait = next - Date.now();
    if (wait > 0 && !(await sleep(wait, true, { signal: options.signal }).catch(() => false))) return true;
    next = Math.max(next, Date.now()) + interval;
    const result = progressOf(await deps.dlq.actOnPlanned(plan.action, jobId, gen));
    progress.set(jobId, result);
    const { cancelRequested, leaseLost } = await deps.actions.record(action.id, jobId, result, lease);
    if (isSettled(result)) settled++;
    options.onProgress?.({ done: settled, total, jobId });
    if (cancelRequested) return true;
    // Paused past the lease: a resume may run the plan now. Each job's generation check keeps the
    // two from redriving a job twice, but two runners of one action is what the lease is for.
    if (leaseLost) throw new DlqActionLeaseLostError(action.id);
  }
  return false;
}

function reportOf(action: DlqActionRecord, cancelled: boolean, resumed: number): BulkReport {
  const report: BulkReport = {
    actionId: action.id,
    done: [],
    notFound: [],
    movedOn: [],
    busy: [],
    total: action.plan.jobs.length,
    cancelled,
    resumed,
  };
  for (const { jobId } of action.plan.jobs) {
    const p = action.progress.get(jobId);
    if (p === 'done') report.done.push(jobId);
    else if (p === 'not-found') report.notFound.push(jobId);
    else if (p === 'moved-on') report.movedOn.push(jobId);
    else if (p !== undefined) report.busy.push({ jobId, reason: p.slice('busy:'.length) });
  }
  return report;
}
