// djq dlq list | show | redrive | purge | actions: read and act on the dead-letter queue. Redrive
// and purge go through the operator console's bulk actions: a selection by ids or by filters, a dry
// run (--dry-run) that counts, samples and warns, a rate limit with progress, and Ctrl-C to stop;
// each action is kept in Redis, so one that stopped is resumed with --resume <actionId>.
import { writerOf } from '../../shared/lifecycle/dead-letter.js';
import { DlqActionNotFoundError, DlqActionRunningError, isSettled } from '../../shared/operator/dlq-actions.js';
import type { BulkReport, DlqPlan, DlqWhere } from '../../shared/operator/dlq-bulk.js';
import type { DlqConsole } from '../../shared/operator/dlq-console.js';
import { numberAttempts } from '../../shared/operator/job-timeline.js';
import { type CliContext, cliActor, UsageError } from '../context.js';
import { type Output, table } from '../output.js';
import { parseTime } from './find.js';

export interface DlqArgs {
  action: string;
  ids: string[];
  all: boolean;
  yes: boolean;
  dryRun: boolean;
  reason?: string;
  errorClass?: string;
  op?: string;
  user?: string;
  gen?: string;
  from?: string;
  to?: string;
  rate?: string;
  /** An action id: resume that action (its plan, skipping what it settled). */
  resume?: string;
}

export async function dlq(ctx: CliContext, out: Output, args: DlqArgs): Promise<number> {
  switch (args.action) {
    case 'list':
      return list((await ctx.system()).console, out, args);
    case 'show':
      return show((await ctx.system()).console, out, args);
    case 'redrive':
    case 'purge':
      return act(ctx, out, args);
    case 'actions':
      return actions(ctx, out);
    default:
      throw new UsageError(`unknown dlq action "${args.action}" (list, show, redrive, purge, actions)`);
  }
}

async function list(dlqConsole: DlqConsole, out: Output, args: DlqArgs): Promise<number> {
  const entries = await dlqConsole.list(args.reason ? { reason: args.reason } : {});
  out.result({ count: entries.length, entries }, () =>
    entries.length === 0
      ? 'The dead-letter queue is empty.'
      : table([
          ['JOB ID', 'OPERATION', 'ATTEMPTS', 'DEAD-LETTERED', 'REASON'],
          ...entries.map((e) => [e.jobId, e.name, e.attemptsMade, e.deadLetteredAt, e.reason.slice(0, 100)]),
        ]) + `\n${entries.length} job(s). Show one: djq dlq show <jobId>; put back: djq dlq redrive <jobId>|--all`,
  );
  return 0;
}

async function show(dlqConsole: DlqConsole, out: Output, args: DlqArgs): Promise<number> {
  const [id] = args.ids;
  if (!id || args.ids.length !== 1) throw new UsageError('dlq show takes exactly one jobId');
  const entry = await dlqConsole.show(id);
  if (!entry) {
    process.stderr.write(`Job ${id} is not in the dead-letter queue (djq dlq list shows what is).\n`);
    return 1;
  }
  // Each redrive starts BullMQ's count over at 1: number them across the job's life.
  const attempts = numberAttempts(entry.attempts);
  out.result({ ...entry, attempts }, () =>
    [
      `job ${entry.jobId}  ${entry.name}`,
      `reason     ${entry.reason}`,
      `enqueued   ${entry.enqueuedAt}`,
      `dead       ${entry.deadLetteredAt}  (redriven ${entry.redrives} time(s) before)`,
      `payload    ${JSON.stringify(entry.payload)}`,
      'attempts:',
      ...attempts.map(
        (a) =>
          `  #${a.n} (generation ${a.gen}, attempt ${a.attempt}) ${a.at}${writerOf(a)}  ${a.errorClass}${a.retryable ? '' : ' (not retryable)'}: ${a.message}`,
      ),
    ].join('\n'),
  );
  return 0;
}

/** The saved bulk actions, newest first: which can be resumed. */
async function actions(ctx: CliContext, out: Output): Promise<number> {
  const saved = await (await ctx.operator()).dlqActions();
  const rows = saved.map((a) => ({
    id: a.id,
    action: a.plan.action,
    status: a.status,
    by: a.plan.by,
    createdAt: a.plan.createdAt,
    total: a.plan.jobs.length,
    settled: a.plan.jobs.filter((j) => isSettled(a.progress.get(j.jobId))).length,
  }));
  out.result({ actions: rows }, () =>
    rows.length === 0
      ? 'No DLQ actions kept (they are kept a week after their last change).'
      : table([
          ['ACTION ID', 'ACTION', 'STATUS', 'SETTLED', 'BY', 'CREATED'],
          ...rows.map((r) => [r.id, r.action, r.status, `${r.settled}/${r.total}`, r.by, r.createdAt]),
        ]) + '\nResume one that stopped: djq dlq redrive|purge --resume <actionId>',
  );
  return 0;
}

function whereOf(args: DlqArgs): { where: DlqWhere; filtered: boolean } {
  const gen = args.gen === undefined ? undefined : Number(args.gen);
  if (gen !== undefined && !(Number.isInteger(gen) && gen >= 1))
    throw new UsageError(`--gen must be a generation (a whole number from 1), got "${args.gen}"`);
  const where: DlqWhere = {
    ...(args.reason ? { reason: args.reason } : {}),
    ...(args.errorClass ? { errorClass: args.errorClass } : {}),
    ...(args.op ? { op: args.op } : {}),
    ...(args.user ? { user: args.user } : {}),
    ...(gen !== undefined ? { gen } : {}),
    ...(args.from ? { from: parseTime('--from', args.from) } : {}),
    ...(args.to ? { to: parseTime('--to', args.to) } : {}),
  };
  return { where, filtered: Object.keys(where).length > 0 };
}

function rateOf(ctx: CliContext, args: DlqArgs): number {
  if (args.rate === undefined) return ctx.config.DLQ_ACTION_RATE_PER_SEC;
  const rate = Number(args.rate);
  if (!(Number.isFinite(rate) && rate > 0))
    throw new UsageError(`--rate must be a positive number of jobs per second, got "${args.rate}"`);
  return rate;
}

/** Redrive or purge: the jobs named, or --all / any filter (every entry that matches them), or --resume <actionId>. */
async function act(ctx: CliContext, out: Output, args: DlqArgs): Promise<number> {
  const { where, filtered } = whereOf(args);
  const bulk = args.all || filtered;
  const action = args.action as 'redrive' | 'purge';
  if (args.resume !== undefined) {
    if (bulk || args.ids.length > 0 || args.dryRun)
      throw new UsageError(
        `dlq ${action} --resume <actionId> takes no jobIds, filters or --dry-run: the action has its plan`,
      );
    return resume(ctx, out, action, args.resume, args.rate === undefined ? undefined : rateOf(ctx, args));
  }
  if (bulk === args.ids.length > 0)
    throw new UsageError(
      `dlq ${action} takes jobIds, or --all and/or filters (--reason, --error-class, --op, --user, --gen, --from, --to), or --resume <actionId>`,
    );
  if (action === 'purge' && bulk && !args.yes && !args.dryRun) {
    throw new UsageError(
      `dlq purge ${args.all ? '--all' : 'by filter'} deletes dead-lettered jobs for good: run with --dry-run to see which, then add --yes to confirm`,
    );
  }
  const rate = rateOf(ctx, args);
  const operator = await ctx.operator();
  const selection = bulk ? where : { ...where, jobIds: args.ids };
  const plan = await operator.planDlq(action, selection);
  // With --json the warnings are in the document (`warnings`).
  if (!out.json) for (const warning of plan.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (args.dryRun) {
    printDryRun(out, plan);
    return 0;
  }
  const report = await withCtrlC((signal) =>
    operator.runDlq(plan, {
      by: cliActor(),
      where: selection,
      ratePerSecond: rate,
      signal,
      onSaved: (id) => {
        if (!out.json) process.stderr.write(`action ${id} (resume it with: djq dlq ${action} --resume ${id})\n`);
      },
      onProgress: progressLine(out),
    }),
  );
  return printReport(out, action, report, bulk);
}

async function resume(
  ctx: CliContext,
  out: Output,
  action: 'redrive' | 'purge',
  actionId: string,
  rate: number | undefined,
): Promise<number> {
  const operator = await ctx.operator();
  const saved = await operator.dlqAction(actionId);
  if (!saved) throw new UsageError(new DlqActionNotFoundError(actionId).message);
  if (saved.plan.action !== action)
    throw new UsageError(
      `action ${actionId} is a ${saved.plan.action}: run djq dlq ${saved.plan.action} --resume ${actionId}`,
    );
  const report = await withCtrlC((signal) =>
    operator
      .resumeDlq(actionId, { signal, onProgress: progressLine(out), ...(rate ? { ratePerSecond: rate } : {}) })
      .catch((error: unknown) => {
        throw error instanceof DlqActionRunningError ? new UsageError(error.message) : error;
      }),
  );
  return printReport(out, action, report, true);
}

/** Runs `fn` with a signal Ctrl-C aborts: the action stops between jobs and can be resumed. */
async function withCtrlC<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  try {
    return await fn(stop.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function progressLine(out: Output) {
  return ({ done, total }: { done: number; total: number }) => {
    if (!out.json && total > 1) process.stderr.write(`  ${done}/${total}\n`);
  };
}

function printDryRun(out: Output, plan: DlqPlan): void {
  const { action } = plan;
  out.result({ dryRun: true, ...plan }, () =>
    [
      `Dry run: ${plan.count} job(s) would be ${action === 'redrive' ? 'redriven' : 'purged'}.`,
      ...plan.reasons.map(
        (r) => `  ${r.count} × ${r.errorClass}${r.retryable ? '' : ' (not retryable)'}: ${r.example.slice(0, 100)}`,
      ),
      ...(plan.sample.length > 0 ? [`e.g. ${plan.sample.map((e) => e.jobId).join(', ')}`] : []),
      `Run without --dry-run to do it${action === 'purge' ? ' (with --yes)' : ''}.`,
    ].join('\n'),
  );
}

function printReport(out: Output, action: 'redrive' | 'purge', report: BulkReport, bulk: boolean): number {
  const { done, notFound, movedOn, busy } = report;
  const verb = action === 'redrive' ? 'redriven' : 'purged';
  out.result(
    {
      actionId: report.actionId,
      [verb]: done,
      notFound,
      movedOn,
      ...(busy.length > 0 ? { busy } : {}),
      total: report.total,
      resumed: report.resumed,
      cancelled: report.cancelled,
    },
    () =>
      [
        `${done.length} job(s) ${verb}${report.cancelled ? ` before it was stopped (of ${report.total})` : ''}.`,
        ...(notFound.length ? [`Not in the dead-letter queue: ${notFound.join(', ')}`] : []),
        ...(movedOn.length
          ? [`Left alone, redriven since the plan was made (generation moved on): ${movedOn.join(', ')}`]
          : []),
        ...busy.map((b) => `Left alone: ${b.reason}`),
        ...(report.cancelled || busy.length > 0 ? [`Resume it: djq dlq ${action} --resume ${report.actionId}`] : []),
      ].join('\n'),
  );
  return busy.length > 0 || report.cancelled || (notFound.length > 0 && !bulk) ? 1 : 0;
}
