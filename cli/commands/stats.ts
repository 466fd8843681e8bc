// djq stats: queue counts by state, DLQ size, events and users.
import type { CliContext } from '../context.js';
import { type Output, table } from '../output.js';

export async function stats(ctx: CliContext, out: Output): Promise<number> {
  const { queues, stores } = await ctx.system();
  const [counts, dlq, events, users] = await Promise.all([
    queues.operations.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'),
    queues.deadLetter.getJobCountByTypes('waiting', 'prioritized', 'delayed'),
    stores.events.count(),
    stores.users.count(),
  ]);
  const data = { queue: ctx.config.QUEUE_NAME, counts, deadLetter: dlq, events, users, source: ctx.source };
  out.result(data, () =>
    table([
      ['queue', ctx.config.QUEUE_NAME],
      ...Object.entries(counts).map(([state, n]) => [`  ${state}`, n]),
      ['dead-letter queue', dlq],
      ['events', events],
      ['users', users],
      ['(from', `${ctx.source})`],
    ]),
  );
  return 0;
}
