// djq dlq list | show | redrive | purge: read and act on the dead-letter queue. Redrive and purge
// go through the operator console's bulk actions: a selection by ids or by filters, a dry run
// (--dry-run) that counts, samples and warns, a rate limit with progress, and Ctrl-C to stop.
import { writerOf } from '../../shared/lifecycle/dead-letter.js';
import type { DlqWhere } from '../../shared/operator/dlq-bulk.js';
import type { DlqConsole } from '../../shared/operator/dlq-console.js';
import { numberAttempts } from '../../shared/operator/job-timeline.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
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
  from?: string;
  to?: string;
  rate?: string;
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
    default:
      throw new UsageError(`unknown dlq action "${args.action}" (list, show, redrive, purge)`);
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

function whereOf(args: DlqArgs): { where: DlqWhere; filtered: boolean } {
  const where: DlqWhere = {
    ...(args.reason ? { reason: args.reason } : {}),
    ...(args.errorClass ? { errorClass: args.errorClass } : {}),
    ...(args.op ? { op: args.op } : {}),
    ...(args.from ? { from: parseTime('--from', args.from) } : {}),
    ...(args.to ? { to: parseTime('--to', args.to) } : {}),
  };
  return { where, filtered: Object.keys(where).length > 0 };
}

/** Redrive or purge: the jobs named, or --all / any filter (every entry that matches them). */
async function act(ctx: CliContext, out: Output, args: DlqArgs): Promise<number> {
  const { where, filtered } = whereOf(args);
  const bulk = args.all || filtered;
  if (bulk === args.ids.length > 0)
    throw new UsageError(
      `dlq ${args.action} takes jobIds, or --all and/or filters (--reason, --error-class, --op, --from, --to)`,
    );
  if (args.action === 'purge' && bulk && !args.yes && !args.dryRun) {
    throw new UsageError(
      `dlq purge ${args.all ? '--all' : 'by filter'} deletes dead-lettered jobs for good: run with --dry-run to see which, then add --yes to confirm`,
    );
  }
  const rate = args.rate === undefined ? undefined : Number(args.rate);
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0))
    throw new UsageError(`--rate must be a positive number of jobs per second, got "${args.rate}"`);
  const action = args.action as 'redrive' | 'purge';
  const operator = await ctx.operator();
  const plan = await operator.planDlq(action, bulk ? where : { ...where, jobIds: args.ids });
  // With --json the warnings are in the document (`warnings`).
  if (!out.json) for (const warning of plan.warnings) process.stderr.write(`warning: ${warning}\n`);
  if (args.dryRun) {
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
    return 0;
  }
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  const report = await operator
    .runDlq(plan, {
      ...(rate ? { ratePerSecond: rate } : {}),
      signal: stop.signal,
      onProgress: ({ done, total }) => {
        if (!out.json && total > 1) process.stderr.write(`  ${done}/${total}\n`);
      },
    })
    .finally(() => process.off('SIGINT', onSigint));
  const { done, notFound, busy } = report;
  const verb = action === 'redrive' ? 'redriven' : 'purged';
  out.result(
    { [verb]: done, notFound, ...(busy.length > 0 ? { busy } : {}), total: report.total, cancelled: report.cancelled },
    () =>
      [
        `${done.length} job(s) ${verb}${report.cancelled ? ` before it was stopped (of ${report.total})` : ''}.`,
        ...(notFound.length ? [`Not in the dead-letter queue: ${notFound.join(', ')}`] : []),
        ...busy.map((b) => `Left alone: ${b.reason}`),
      ].join('\n'),
  );
  return busy.length > 0 || report.cancelled || (notFound.length > 0 && !bulk) ? 1 : 0;
}
