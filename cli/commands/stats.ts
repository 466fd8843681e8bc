// djq stats: queue counts by state, DLQ size, the fleet's flow-control rate (is DynamoDB holding the
// queue back?), and the table's size from DescribeTable (what DynamoDB keeps without a scan:
// approximate, and said so); --exact counts events and live users with full-table scans. With a
// sharded queue: the totals, then each shard's counts. On a Redis Cluster, each shard's slot and
// the master serving it, with a warning when shards share one.
import { describeFleetFlow } from '../../shared/flow/fleet-rate.js';
import { describeSharing } from '../../shared/runtime/cluster-placement.js';
import type { CliContext } from '../context.js';
import { type Output, table } from '../output.js';

const APPROXIMATE =
  'approximate: DynamoDB refreshes ItemCount about every six hours (dynalite always reports 0); --exact scans the table';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export async function stats(ctx: CliContext, out: Output, options: { exact: boolean } = { exact: false }) {
  const { shards, stores } = await ctx.system();
  const [perShard, size, exact, placement] = await Promise.all([
    Promise.all(
      shards.map(async ({ queues, readFlow }) => ({
        counts: await queues.operations.getJobCounts(...STATES),
        deadLetter: await queues.deadLetter.getJobCountByTypes('waiting', 'prioritized', 'delayed'),
        flow: await readFlow(),
      })),
    ),
    stores.table.size(),
    // Full-table COUNT scans: minutes and real read capacity on a table of millions of items.
    options.exact ? Promise.all([stores.events.count(), stores.users.count()]) : undefined,
    ctx.placement(),
  ]);
  const sharing = describeSharing(placement);
  const counts: Record<string, number> = {};
  for (const { counts: c } of perShard)
    for (const [state, n] of Object.entries(c)) counts[state] = (counts[state] ?? 0) + n;
  const dlq = perShard.reduce((sum, s) => sum + s.deadLetter, 0);
  const sharded = shards.length > 1;
  const estimate = { ...size, ...(size.approximate ? { note: APPROXIMATE } : {}) };
  const data = {
    queue: ctx.config.QUEUE_NAME,
    counts,
    deadLetter: dlq,
    ...(sharded
      ? { shards: perShard.map((s, i) => ({ ...s, ...(placement ? { master: placement.shards[i]?.master } : {}) })) }
      : {}),
    /** On a Redis Cluster: each shard's slot and master, and a warning when two shards share a master. */
    ...(placement ? { placement: { shards: placement.shards, ...(sharing ? { warning: sharing } : {}) } } : {}),
    /** Per shard: the fleet's job rate flow control set after DynamoDB throttled (null: no limit). */
    flow: perShard.map((s) => s.flow),
    table: estimate,
    ...(exact ? { events: exact[0], users: exact[1] } : {}),
    source: ctx.source,
  };
  const approx = size.approximate ? ' (approx.)' : '';
  out.result(data, () =>
    table([
      ['queue', ctx.config.QUEUE_NAME + (sharded ? ` (${shards.length} shards, totals)` : '')],
      ...Object.entries(counts).map(([state, n]) => [`  ${state}`, n]),
      ['dead-letter queue', dlq],
      ...perShard.map((s, i) => [
        sharded ? `DynamoDB flow control, shard ${i}` : 'DynamoDB flow control',
        describeFleetFlow(s.flow),
      ]),
      ...(sharded
        ? perShard.map((s, i) => [
            `shard ${i}`,
            `${STATES.map((state) => `${state} ${s.counts[state] ?? 0}`).join(', ')}; dead-letter ${s.deadLetter}`,
          ])
        : []),
      ...(placement?.shards.map((s) => [
        sharded ? `shard ${s.shard} master` : 'master',
        `${s.master ?? 'none serves its slot'} (slot ${s.slot})`,
      ]) ?? []),
      ...(sharing ? [['WARNING', sharing]] : []),
      [`table items${approx}`, estimate.items],
      [`  bytes${approx}`, estimate.sizeBytes],
      [`  users with a department${approx}`, estimate.usersWithDepartment],
      ...(exact
        ? [
            ['events (exact, scanned)', exact[0]],
            ['users (exact, scanned)', exact[1]],
          ]
        : size.approximate
          ? [['(approx.', `${APPROXIMATE})`]]
          : []),
      ['(from', `${ctx.source})`],
    ]),
  );
  return 0;
}
