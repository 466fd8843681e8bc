// djq dlq list | show | redrive | purge: read and act on the dead-letter queue.

import type { DlqConsole, DlqSelection } from '../../shared/operator/dlq-console.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import { type Output, table } from '../output.js';

export interface DlqArgs {
  action: string;
  ids: string[];
  all: boolean;
  yes: boolean;
  reason?: string;
}

export async function dlq(ctx: CliContext, out: Output, args: DlqArgs): Promise<number> {
  const dlqConsole = (await ctx.system()).console;
  switch (args.action) {
    case 'list':
      return list(dlqConsole, out, args);
    case 'show':
      return show(dlqConsole, out, args);
    case 'redrive':
    case 'purge':
      return act(dlqConsole, out, args);
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
  out.result(entry, () =>
    [
      `job ${entry.jobId}  ${entry.name}`,
      `reason     ${entry.reason}`,
      `enqueued   ${entry.enqueuedAt}`,
      `dead       ${entry.deadLetteredAt}  (redriven ${entry.redrives} time(s) before)`,
      `payload    ${JSON.stringify(entry.payload)}`,
      'attempts:',
      ...entry.attempts.map(
        (a) => `  #${a.attempt} ${a.at}  ${a.errorClass}${a.retryable ? '' : ' (not retryable)'}: ${a.message}`,
      ),
    ].join('\n'),
  );
  return 0;
}

/** Redrive or purge: the jobs named, or --all (with --reason, those whose reason matches). */
async function act(dlqConsole: DlqConsole, out: Output, args: DlqArgs): Promise<number> {
  if (args.all === args.ids.length > 0) throw new UsageError(`dlq ${args.action} takes jobIds or --all, not both`);
  if (args.action === 'purge' && args.all && !args.yes) {
    throw new UsageError('dlq purge --all deletes dead-lettered jobs for good: add --yes to confirm');
  }
  const filter = args.reason ? { reason: args.reason } : {};
  const selection: DlqSelection = args.all ? { all: true, ...filter } : { jobIds: args.ids };
  const report = args.action === 'redrive' ? await dlqConsole.redrive(selection) : await dlqConsole.purge(selection);
  const { done, notFound, busy } = report;
  const verb = args.action === 'redrive' ? 'redriven' : 'purged';
  out.result({ [verb]: done, notFound, ...(busy.length > 0 ? { busy } : {}) }, () =>
    [
      `${done.length} job(s) ${verb}.`,
      ...(notFound.length ? [`Not in the dead-letter queue: ${notFound.join(', ')}`] : []),
      ...busy.map((b) => `Left alone: ${b.reason}`),
    ].join('\n'),
  );
  return busy.length > 0 || (notFound.length > 0 && !args.all) ? 1 : 0;
}
