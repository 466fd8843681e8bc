// djq stats: queue counts by state, DLQ size, the fleet's flow-control rate (is DynamoDB holding the
// queue back?), and the table's size from DescribeTable (what DynamoDB keeps without a scan:
// approximate, and said so); --exact counts events and live users with full-table scans. With a
// sharded queue: the totals, then each shard's counts. On a Redis Cluster, each shard's slot and
// the master serving it, with a warning when shards share one.
import { describeFleetFlow, type FleetFlowView } from '../../shared/flow/fleet-rate.js';
import { describeEpoch, type EpochState } from '../../shared/lifecycle/epoch.js';
import { describeSharing, type Placement } from '../../shared/runtime/cluster-placement.js';
import type { Stores } from '../../shared/store/types.js';
import type { CliContext } from '../context.js';
import { type Output, table } from '../output.js';

const APPROXIMATE =
  'approximate: DynamoDB refreshes ItemCount about every six hours (dynalite always reports 0); --exact scans the table';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

type Size = Awaited<ReturnType<Stores['table']['size']>>;

export async function stats(ctx: CliContext, out: Output, options: { exact: boolean } = { exact: false }) {
  const { shards, stores } = await ctx.system();
  const [perShard, size, exact, placement] = await Promise.all([
    Promise.all(
      shards.map(async ({ queues, readFlow, checkEpoch }) => ({
        counts: await queues.operations.getJobCounts(...STATES),
        epoch: await checkEpoch(),
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
  const estimate = { ...size, ...(size.approximate ? { note: APPROXIMATE } : {}) };
  const data = {
    queue: ctx.config.QUEUE_NAME,
    counts,
    deadLetter: dlq,
    ...(shards.length > 1
      ? { shards: perShard.map((s, i) => ({ ...s, ...(placement ? { master: placement.shards[i]?.master } : {}) })) }
      : {}),
    /** On a Redis Cluster: each shard's slot and master, and a warning when two shards share a master. */
    ...(placement ? { placement: { shards: placement.shards, ...(sharing ? { warning: sharing } : {}) } } : {}),
    /** Per shard: the fleet's job rate flow control set after DynamoDB throttled (null: no limit). */
    flow: perShard.map((s) => s.flow),
    /** Per shard: whether Redis and the table belong together ('redis-lost': run djq recover). */
    epoch: perShard.map((s) => s.epoch.state),
    table: estimate,
    ...(exact ? { events: exact[0], users: exact[1] } : {}),
    source: ctx.source,
  };
  out.result(data, () => statsTable(ctx, data, perShard, size, exact, placement));
  return 0;
}

/** The figures for people: totals, flow control per shard, each shard's counts, the table's size. */
function statsTable(
  ctx: CliContext,
  data: { counts: Record<string, number>; deadLetter: number },
  perShard: { counts: Record<string, number>; deadLetter: number; flow: FleetFlowView; epoch: EpochState }[],
  size: Size,
  exact: [number, number] | undefined,
  placement: Placement | undefined,
): string {
  const sharded = perShard.length > 1;
  const approx = size.approximate ? ' (approx.)' : '';
  // DescribeTable's 0 is "not counted yet" as often as "empty" (and always on dynalite): said so.
  const approxCount = (n: number) => (size.approximate && n === 0 ? '0 (not counted yet: --exact scans)' : n);
  const notes = [...(size.approximate && !exact ? [`(approx.): ${APPROXIMATE}.`] : []), `From ${ctx.source}.`];
  const rows = table([
    ['queue', ctx.config.QUEUE_NAME + (sharded ? ` (${perShard.length} shards, totals)` : '')],
    ...Object.entries(data.counts).map(([state, n]) => [`  ${state}`, n]),
    ['dead-letter queue', data.deadLetter],
    ...perShard.map((s, i) => [
      sharded ? `DynamoDB flow control, shard ${i}` : 'DynamoDB flow control',
      describeFleetFlow(s.flow),
    ]),
    ...perShard
      .filter((s) => s.epoch.state !== 'ok')
      .map((s, i) => [sharded ? `Redis data, shard ${i}` : 'Redis data', describeEpoch(s.epoch)]),
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
    ...(describeSharing(placement) ? [['WARNING', describeSharing(placement) as string]] : []),
    [`table items${approx}`, approxCount(size.items)],
    [`  bytes${approx}`, approxCount(size.sizeBytes)],
    [`  users with a department${approx}`, approxCount(size.usersWithDepartment)],
    ...(exact
      ? [
          ['events (exact, scanned)', exact[0]],
          ['users (exact, scanned)', exact[1]],
        ]
      : []),
  ]);
  return [rows, '', ...notes].join('\n');
}
