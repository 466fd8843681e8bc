// Bulk DLQ actions done safely, for `djq dlq redrive|purge --where…` and the console page: select
// entries by reason, error class, operation and time; a dry run first (the count, a sample, the
// reasons grouped, and a warning for reasons a redrive cannot cure); then the action one job at a
// time at a bounded rate, with progress and a way to stop. Each job goes through DlqConsole, so it
// is a lifecycle transition under its lock, recorded with the operator's name; a job already acted
// on is "not found" the second time, so an action run again never redrives a job twice.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DeadLetterEntry } from '../lifecycle/dead-letter.js';
import type { DlqActionReport, DlqConsole } from './dlq-console.js';

export interface DlqWhere {
  /** Text in the reason, case-insensitive. */
  reason?: string;
  /** The error class of the last attempt (exact, case-insensitive). */
  errorClass?: string;
  op?: string;
  /** Dead-lettered at or after / at or before (ISO). */
  from?: string;
  to?: string;
  jobIds?: readonly string[];
}

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
  sample: DeadLetterEntry[];
  reasons: ReasonGroup[];
  warnings: string[];
}

export interface BulkOptions {
  /** Jobs per second at most. @default 10 */
  ratePerSecond?: number;
  onProgress?: (progress: { done: number; total: number; jobId: string }) => void;
  /** Stops before the next job when aborted; the report says how far it got. */
  signal?: AbortSignal;
}

export interface BulkReport extends DlqActionReport {
  total: number;
  cancelled: boolean;
}

export const DEFAULT_RATE_PER_SECOND = 10;
const SAMPLE_SIZE = 5;

const lastAttempt = (e: DeadLetterEntry) => e.attempts.at(-1);
const errorClassOf = (e: DeadLetterEntry) => lastAttempt(e)?.errorClass ?? e.reason.split(':')[0] ?? 'unknown';

export function matchesWhere(entry: DeadLetterEntry, where: DlqWhere): boolean {
  if (where.jobIds && !where.jobIds.includes(entry.jobId)) return false;
  if (where.reason && !entry.reason.toLowerCase().includes(where.reason.toLowerCase())) return false;
  if (where.errorClass && errorClassOf(entry).toLowerCase() !== where.errorClass.toLowerCase()) return false;
  if (where.op && entry.name !== where.op) return false;
  if (where.from && entry.deadLetteredAt < where.from) return false;
  if (where.to && entry.deadLetteredAt > where.to) return false;
  return true;
}

/** The dry run: what an action on `where` would touch, without touching it. */
export async function planDlqAction(dlq: DlqConsole, action: 'redrive' | 'purge', where: DlqWhere): Promise<DlqPlan> {
  const entries = (await dlq.list()).filter((e) => matchesWhere(e, where));
  const groups = new Map<string, ReasonGroup>();
  for (const entry of entries) {
    const errorClass = errorClassOf(entry);
    const retryable = lastAttempt(entry)?.retryable ?? true;
    const key = `${errorClass}\u0000${retryable}`;
    const group = groups.get(key) ?? { errorClass, example: entry.reason, count: 0, retryable };
    group.count++;
    groups.set(key, group);
  }
  const reasons = [...groups.values()].sort((a, b) => b.count - a.count);
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
    sample: entries.slice(0, SAMPLE_SIZE),
    reasons,
    warnings,
  };
}

/** Runs an action on the plan's jobs, one at a time, at most `ratePerSecond`. */
export async function runDlqAction(dlq: DlqConsole, plan: DlqPlan, options: BulkOptions = {}): Promise<BulkReport> {
  const interval = 1000 / Math.max(0.001, options.ratePerSecond ?? DEFAULT_RATE_PER_SECOND);
  const report: BulkReport = { done: [], notFound: [], busy: [], total: plan.jobIds.length, cancelled: false };
  let next = Date.now();
  for (const [i, jobId] of plan.jobIds.entries()) {
    if (options.signal?.aborted) {
      report.cancelled = true;
      break;
    }
    // A rate limit, not a wait for anything: spaces the transitions so a bulk redrive does not
    // flood the workers (and DynamoDB behind them) with a burst of retried jobs.
    const wait = next - Date.now();
    if (wait > 0) await sleep(wait);
    next = Math.max(next, Date.now()) + interval;
    const selection = { jobIds: [jobId] };
    const one = plan.action === 'redrive' ? await dlq.redrive(selection) : await dlq.purge(selection);
    report.done.push(...one.done);
    report.notFound.push(...one.notFound);
    report.busy.push(...one.busy);
    options.onProgress?.({ done: i + 1, total: plan.jobIds.length, jobId });
  }
  return report;
}
