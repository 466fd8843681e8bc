// djq stats: queue counts by state, DLQ size, events and users; with a sharded queue, the totals
// and then each shard's counts.
import type { CliContext } from '../context.js';
import { type Output, table } from '../output.js';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export async function stats(ctx: CliContext, out: Output): Promise<number> {
  const { shards, stores } = await ctx.system();
  const [perShard, events, users] = await Promise.all([
    Promise.all(
      shards.map(async ({ queues }) => ({
        counts: await queues.operations.getJobCounts(...STATES),
        deadLetter: await queues.deadLetter.getJobCountByTypes('waiting', 'prioritized', 'delayed'),
      })),
    ),
    stores.events.count(),
    stores.users.count(),
  ]);
  const counts: Record<string, number> = {};
  for (const { counts: c } of perShard)
    for (const [state, n] of Object.entries(c)) counts[state] = (counts[state] ?? 0) + n;
  const dlq = perShard.reduce((sum, s) => sum + s.deadLetter, 0);
  const sharded = shards.length > 1;
  const data = {
    queue: ctx.config.QUEUE_NAME,
    counts,
    deadLetter: dlq,
    events,
    users,
    source: ctx.source,
    ...(sharded ? { shards: perShard } : {}),
  };
  out.result(data, () =>
    table([
      ['queue', ctx.config.QUEUE_NAME + (sharded ? ` (${shards.length} shards, totals)` : '')],
      ...Object.entries(counts).map(([state, n]) => [`  ${state}`, n]),
      ['dead-letter queue', dlq],
      ...(sharded
        ? perShard.map((s, i) => [
            `shard ${i}`,
            `${STATES.map((state) => `${state} ${s.counts[state] ?? 0}`).join(', ')}; dead-letter ${s.deadLetter}`,
          ])
        : []),
      ['events', events],
      ['users', users],
      ['(from', `${ctx.source})`],
    ]),
  );
  return 0;
}
