// The operator's console: the one module `djq` and the board's /console page call to find jobs,
// read a job's timeline, see what happened to a user, act on the dead-letter queue safely, and
// count outcomes per minute for the charts. It holds no state of its own: the stores and every
// shard's queues are passed in, as the caller (CLI or board) wired them.
import { type ActivitySeries, alignBullMetrics } from '../lifecycle/minute-series.js';
import type { Queues } from '../lifecycle/queues.js';
import type { JobOutcome, Stores } from '../store/types.js';
import { traceIdOf } from '../telemetry/tracing.js';
import type { DlqActionRecord, DlqActionStore } from './dlq-actions.js';
import {
  type BulkOptions,
  type BulkReport,
  type DlqPlan,
  type DlqWhere,
  planDlqAction,
  runDlqAction,
  saveDlqAction,
} from './dlq-bulk.js';
import type { DlqConsole } from './dlq-console.js';
import {
  type JobFilter,
  JobSearch,
  type JobSummary,
  type QueueState,
  queueStateOf,
  type SearchOptions,
  type SearchPage,
} from './job-search.js';
import { jobTimeline, type Timeline } from './job-timeline.js';

export interface OperatorConsoleDeps {
  stores: Stores;
  /** Every shard's queues (one, unless QUEUE_SHARDS > 1). */
  queues: readonly Pick<Queues, 'operations' | 'deadLetter'>[];
  dlq: DlqConsole;
  /** Where bulk DLQ actions are kept, to be resumed (shard 0's Redis keys). */
  actions: DlqActionStore;
  /** The workers' per-minute series (minute-series.ts) for the last `minutes`, e.g. readMinuteSeries bound to Redis. */
  activity: (minutes: number, now: number) => Promise<ActivitySeries>;
  /** HISTORY_RETENTION_DAYS: a timeline older than this says its history expired. */
  historyRetentionDays: number;
}

/** Where a job's trace is (its id) and which Redis copy of the job said so. */
export interface JobTrace {
  traceId: string;
  from: 'operations queue' | 'dead-letter queue' | 'job history';
}

/** Everything the console's charts draw, per minute, on one set of minutes. */
export interface ChartSeries {
  minutes: string[];
  /** BullMQ's own per-minute count of completed jobs (the workers' `metrics` option), every shard. */
  completed: number[];
  /** From the job records: BullMQ has no dead-letter queue of its own to count. */
  deadLettered: number[];
  /** True when the dead-lettered count hit its read cap and counts only the newest jobs. */
  truncated: boolean;
  activity: ActivitySeries;
}

export interface UserJob extends JobSummary {
  /** The event this job wrote for the user, if it is part of the user's stream. */
  eventVersion?: number;
}

export interface OutcomeSeries {
  /** The minutes, oldest first, as ISO times of each minute's start. */
  minutes: string[];
  counts: Record<'completed' | 'dead-lettered', number[]>;
  /** True when a series hit the read cap and counts only the newest jobs. */
  truncated: boolean;
}

/** Jobs read per series at most: the charts are a glance, not an audit. */
const CHART_READ_CAP = 20_000;

export class OperatorConsole {
  private readonly finder: JobSearch;

  constructor(private readonly deps: OperatorConsoleDeps) {
    this.finder = new JobSearch({
      records: deps.stores.jobs,
      history: deps.stores.history,
      queueState: (id) => this.queueState(id),
    });
  }

  search(filter: JobFilter, options?: SearchOptions): Promise<SearchPage> {
    return this.finder.search(filter, options);
  }

  async timeline(jobId: string): Promise<(Timeline & { trace?: JobTrace }) | undefined> {
    const summary = await this.finder.summary(jobId);
    const [timeline, trace] = await Promise.all([
      jobTimeline(this.deps.stores, jobId, { summary, retentionDays: this.deps.historyRetentionDays }),
      this.traceOf(jobId),
    ]);
    if (!timeline.record && timeline.items.length === 0) return undefined;
    return trace ? { ...timeline, trace } : timeline;
  }

  /**
   * The job's trace, from its propagation metadata in Redis: the operations queue's job while Redis
   * holds it, else its dead-letter entry (added inside the move's span, in the job's trace), else
   * the trace id its attempts' starts recorded in the history (a job Redis pruned, while the
   * history is kept).
   */
  async traceOf(jobId: string): Promise<JobTrace | undefined> {
    const inRedis = await this.traceInRedis(jobId);
    if (inRedis) return inRedis;
    const entries = await this.deps.stores.history.list(jobId);
    const started = entries.findLast((e) => e.type === 'attempt-started' && e.traceId !== undefined);
    return started?.type === 'attempt-started' && started.traceId
      ? { traceId: started.traceId, from: 'job history' }
      : undefined;
  }

  private async traceInRedis(jobId: string): Promise<JobTrace | undefined> {
    for (const shard of this.deps.queues) {
      for (const [from, queue] of [
        ['operations queue', shard.operations],
        ['dead-letter queue', shard.deadLetter],
      ] as const) {
        const job = await queue.getJob(jobId);
        const traceId = traceIdOf(job?.opts.telemetry?.metadata);
        if (traceId) return { traceId, from };
      }
    }
    return undefined;
  }

  /** Every job that touched the user, oldest first, with the event each wrote for them. */
  async userJobs(userId: string): Promise<UserJob[]> {
    const jobs = await this.finder.allForUser(userId);
    return Promise.all(
      jobs.map(async (job) => {
        const event = await this.deps.stores.events.getByJob(userId, job.jobId);
        return { ...job, ...(event ? { eventVersion: event.version } : {}) };
      }),
    );
  }

  planDlq(action: 'redrive' | 'purge', where: DlqWhere): Promise<DlqPlan> {
    return planDlqAction(this.bulkDeps(), action, where);
  }

  /** Keeps the plan in Redis as an action (to be run, and resumed if it stops): its id. */
  saveDlq(plan: DlqPlan, options: { where: DlqWhere; by: string; ratePerSecond?: number }): Promise<string> {
    return saveDlqAction(this.bulkDeps(), plan, options);
  }

  /** Saves and runs a plan. */
  async runDlq(
    plan: DlqPlan,
    options: BulkOptions & { by: string; where?: DlqWhere; onSaved?: (actionId: string) => void },
  ): Promise<BulkReport> {
    const { by, where, onSaved, ...run } = options;
    const id = await this.saveDlq(plan, {
      where: where ?? { jobIds: plan.jobIds },
      by,
      ...(run.ratePerSecond ? { ratePerSecond: run.ratePerSecond } : {}),
    });
    onSaved?.(id);
    return this.resumeDlq(id, run);
  }

  /** Runs a saved action, or resumes one that stopped: jobs already settled are skipped. */
  resumeDlq(actionId: string, options?: BulkOptions): Promise<BulkReport> {
    return runDlqAction(this.bulkDeps(), actionId, options);
  }

  dlqAction(actionId: string): Promise<DlqActionRecord | undefined> {
    return this.deps.actions.get(actionId);
  }

  /** The newest saved actions first (unfinished ones can be resumed). */
  dlqActions(): Promise<DlqActionRecord[]> {
    return this.deps.actions.list();
  }

  /** Asks an action's runner, in whichever process, to stop before its next job. */
  cancelDlq(actionId: string): Promise<boolean> {
    return this.deps.actions.requestCancel(actionId);
  }

  private bulkDeps() {
    return { dlq: this.deps.dlq, records: this.deps.stores.jobs, actions: this.deps.actions };
  }

  /** Jobs completed and dead-lettered per minute over the last `minutes`, from the job records. */
  async outcomesPerMinute(
    minutes = 60,
    now = Date.now(),
    states: readonly ('completed' | 'dead-lettered')[] = ['completed', 'dead-lettered'],
  ): Promise<OutcomeSeries> {
    const start = Math.floor(now / 60_000) * 60_000 - (minutes - 1) * 60_000;
    const from = new Date(start).toISOString();
    let truncated = false;
    const count = async (state: JobOutcome): Promise<number[]> => {
      const bins = new Array<number>(minutes).fill(0);
      let cursor: string | undefined;
      let read = 0;
      do {
        const page = await this.deps.stores.jobs.queryJobs({
          by: { state },
          from,
          limit: 500,
          ...(cursor ? { cursor } : {}),
        });
        for (const job of page.jobs) {
          const bin = Math.floor((Date.parse(job.at) - start) / 60_000);
          if (bin >= 0 && bin < minutes) bins[bin] = (bins[bin] ?? 0) + 1;
        }
        read += page.jobs.length;
        cursor = page.cursor;
      } while (cursor && read < CHART_READ_CAP);
      if (cursor) truncated = true;
      return bins;
    };
    const none = () => Promise.resolve(new Array<number>(minutes).fill(0));
    const [completed, deadLettered] = await Promise.all([
      states.includes('completed') ? count('completed') : none(),
      states.includes('dead-lettered') ? count('dead-lettered') : none(),
    ]);
    return {
      minutes: Array.from({ length: minutes }, (_, i) => new Date(start + i * 60_000).toISOString()),
      counts: { completed, 'dead-lettered': deadLettered },
      truncated,
    };
  }

  /** Every chart's series over the last `minutes` (the page asks for 60 and 1,440). */
  async charts(minutes = 60, now = Date.now()): Promise<ChartSeries> {
    const [outcomes, activity, completed] = await Promise.all([
      this.outcomesPerMinute(minutes, now, ['dead-lettered']),
      this.deps.activity(minutes, now),
      Promise.all(
        this.deps.queues.map(async (q) =>
          alignBullMetrics(await q.operations.getMetrics('completed', 0, minutes), minutes, now),
        ),
      ),
    ]);
    return {
      minutes: outcomes.minutes,
      completed: outcomes.minutes.map((_, i) => completed.reduce((sum, shard) => sum + (shard[i] ?? 0), 0)),
      deadLettered: outcomes.counts['dead-lettered'],
      truncated: outcomes.truncated,
      activity,
    };
  }

  private async queueState(jobId: string): Promise<QueueState> {
    for (const shard of this.deps.queues) {
      const state = await shard.operations.getJobState(jobId);
      if (state !== 'unknown') return queueStateOf(state);
    }
    return 'unknown';
  }
}
