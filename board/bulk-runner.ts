// The board's bulk DLQ actions: every redrive or purge the board does, from the console page or the
// older /api/dlq endpoints, runs here through the operator console's rate-limited runner, is kept
// in Redis (so a board restart leaves it resumable) and can be cancelled from any board process.
// This class only keeps this process's runs' abort switches; everything else is read from Redis.

import type { DlqActionRecord } from '../shared/operator/dlq-actions.js';
import {
  DlqActionLeaseLostError,
  DlqActionNotFoundError,
  DlqActionRunningError,
  isSettled,
} from '../shared/operator/dlq-actions.js';
import type { BulkReport, DlqPlan, DlqWhere } from '../shared/operator/dlq-bulk.js';
import type { OperatorConsole } from '../shared/operator/operator-console.js';
import type { Logger } from '../shared/runtime/logger.js';

export interface BulkRunnerDeps {
  operator: OperatorConsole;
  /** Recorded as who started each action. */
  operatorName: string;
  /** DLQ_ACTION_RATE_PER_SEC: jobs per second unless the request asks for another. */
  defaultRate: number;
  logger: Logger;
}

/** What the page shows of an action. */
export interface ActionView {
  id: string;
  action: 'redrive' | 'purge';
  by: string;
  where: DlqWhere;
  createdAt: string;
  ratePerSecond: number;
  status: DlqActionRecord['status'];
  /** Not running (any more): the page stops following it. */
  finished: boolean;
  total: number;
  /** Jobs settled so far (done, no longer in the DLQ, or moved on). */
  done: number;
  counts: { done: number; notFound: number; movedOn: number; busy: number };
  error?: string;
}

export class BoardBulkRunner {
  private readonly local = new Map<string, AbortController>();

  constructor(private readonly deps: BulkRunnerDeps) {}

  /** Saves the plan as an action and runs it after the answer: its id (the page follows GET /dlq/actions/:id). */
  async start(plan: DlqPlan, where: DlqWhere, ratePerSecond?: number): Promise<string> {
    const id = await this.deps.operator.saveDlq(plan, {
      where,
      by: this.deps.operatorName,
      ratePerSecond: ratePerSecond ?? this.deps.defaultRate,
    });
    this.deps.logger.info(
      { action: plan.action, jobs: plan.count, by: this.deps.operatorName, id },
      'DLQ action started',
    );
    this.run(id).catch(() => undefined); // logged by run
    return id;
  }

  /** Runs a saved plan to its end and answers its report (the older endpoints answer when done). */
  async runToEnd(plan: DlqPlan, where: DlqWhere, ratePerSecond?: number): Promise<BulkReport> {
    const id = await this.deps.operator.saveDlq(plan, {
      where,
      by: this.deps.operatorName,
      ratePerSecond: ratePerSecond ?? this.deps.defaultRate,
    });
    return this.run(id);
  }

  /** Resumes an unfinished action in the background; refused while a process runs it. */
  async resume(id: string, ratePerSecond?: number): Promise<void> {
    const action = await this.deps.operator.dlqAction(id);
    if (!action) throw new DlqActionNotFoundError(id);
    if (action.status === 'running') throw new DlqActionRunningError(id);
    this.deps.logger.info({ id, by: this.deps.operatorName }, 'DLQ action resumed');
    this.run(id, ratePerSecond).catch(() => undefined);
  }

  async cancel(id: string): Promise<boolean> {
    this.local.get(id)?.abort();
    return this.deps.operator.cancelDlq(id);
  }

  async view(id: string): Promise<ActionView | undefined> {
    const action = await this.deps.operator.dlqAction(id);
    return action && this.viewOf(action);
  }

  async list(): Promise<ActionView[]> {
    return (await this.deps.operator.dlqActions()).map((a) => this.viewOf(a));
  }

  /**
   * A run of this process is running from its start, before its lease is taken: a resumed action
   * reads `running` from the answer to its resume on, not the `cancelled` its record still holds.
   */
  private viewOf(action: DlqActionRecord): ActionView {
    const view = viewOf(action);
    return this.local.has(action.id) && view.status !== 'running'
      ? { ...view, status: 'running', finished: false }
      : view;
  }

  private async run(id: string, ratePerSecond?: number): Promise<BulkReport> {
    const abort = new AbortController();
    this.local.set(id, abort);
    try {
      return await this.deps.operator.resumeDlq(id, {
        signal: abort.signal,
        ...(ratePerSecond ? { ratePerSecond } : {}),
      });
    } catch (error) {
      // Two resumes at once: the second finds the first's lease, and leaves the action to it (as
      // does a run paused past its lease, when it finds another's).
      if (error instanceof DlqActionRunningError || error instanceof DlqActionLeaseLostError)
        this.deps.logger.info({ id }, error.message);
      else this.deps.logger.error({ err: error, id }, 'DLQ action failed');
      throw error;
    } finally {
      this.local.delete(id);
    }
  }
}

function viewOf(a: DlqActionRecord): ActionView {
  const counts = { done: 0, notFound: 0, movedOn: 0, busy: 0 };
  for (const { jobId } of a.plan.jobs) {
    const p = a.progress.get(jobId);
    if (p === 'done') counts.done++;
    else if (p === 'not-found') counts.notFound++;
    else if (p === 'moved-on') counts.movedOn++;
    else if (p !== undefined) counts.busy++;
  }
  return {
    id: a.id,
    action: a.plan.action,
    by: a.plan.by,
    where: a.plan.where,
    createdAt: a.plan.createdAt,
    ratePerSecond: a.plan.ratePerSecond,
    status: a.status,
    finished: a.status !== 'running',
    total: a.plan.jobs.length,
    done: a.plan.jobs.filter((j) => isSettled(a.progress.get(j.jobId))).length,
    counts,
    ...(a.error ? { error: a.error } : {}),
  };
}
