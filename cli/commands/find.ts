// djq find: jobs by id, user, state, operation, error text, time range and redrive generation,
// from DynamoDB's job records (jobs Redis pruned long ago included), a page at a time.
import { type JobFilter, SEARCH_STATES, type SearchState } from '../../shared/operator/job-search.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import { type Output, table } from '../output.js';

export interface FindArgs {
  id?: string;
  user?: string;
  state?: string;
  op?: string;
  error?: string;
  from?: string;
  to?: string;
  gen?: string;
  limit?: string;
  cursor?: string;
}

/** An ISO time, or a duration back from now: 15m, 2h, 3d. */
export function parseTime(flag: string, value: string, now = Date.now()): string {
  const ago = /^(\d+)([smhd])$/.exec(value);
  if (ago) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(ago[1]) * unit).toISOString();
  }
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new UsageError(`${flag} takes an ISO time or a duration like 15m, 2h, 3d; got "${value}"`);
  return new Date(at).toISOString();
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a whole number of at least 1, got "${value}"`);
  return n;
}

export function filterOf(args: FindArgs): JobFilter {
  if (args.state !== undefined && !SEARCH_STATES.includes(args.state as SearchState))
    throw new UsageError(`--state takes one of ${SEARCH_STATES.join(', ')}; got "${args.state}"`);
  return {
    ...(args.id ? { jobId: args.id } : {}),
    ...(args.user ? { userId: args.user } : {}),
    ...(args.state ? { state: args.state as SearchState } : {}),
    ...(args.op ? { op: args.op } : {}),
    ...(args.error ? { error: args.error } : {}),
    ...(args.from ? { from: parseTime('--from', args.from) } : {}),
    ...(args.to ? { to: parseTime('--to', args.to) } : {}),
    ...(args.gen ? { gen: positiveInt('--gen', args.gen) } : {}),
  };
}

export async function find(ctx: CliContext, out: Output, args: FindArgs): Promise<number> {
  const filter = filterOf(args);
  const limit = args.limit ? positiveInt('--limit', args.limit) : 50;
  const page = await (await ctx.operator()).search(filter, { limit, ...(args.cursor ? { cursor: args.cursor } : {}) });
  out.result(page, () =>
    [
      page.jobs.length === 0
        ? 'No job matches.'
        : table([
            ['JOB ID', 'OPERATION', 'STATE', 'GEN', 'ACCEPTED', 'DECIDED', 'REASON'],
            ...page.jobs.map((j) => [
              j.jobId,
              j.op ?? '?',
              j.state,
              j.gen,
              j.acceptedAt ?? '',
              j.decidedAt ?? '',
              (j.reason ?? '').slice(0, 80),
            ]),
          ]),
      page.cursor ? `More: djq find … --cursor '${page.cursor}'` : `${page.jobs.length} job(s).`,
    ].join('\n'),
  );
  return 0;
}
