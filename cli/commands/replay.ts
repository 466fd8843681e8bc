// djq replay --verify | --rebuild: check the users projection against the events, or rebuild it.
import { readPendingWork } from '../../shared/operator/pending-work.js';
import { rebuildProjection, verifyProjection } from '../../shared/operator/replay.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import type { Output } from '../output.js';

export async function replay(
  ctx: CliContext,
  out: Output,
  mode: { verify: boolean; rebuild: boolean },
): Promise<number> {
  if (mode.verify === mode.rebuild) throw new UsageError('replay needs exactly one of --verify or --rebuild');
  const { stores, shards } = await ctx.system();
  if (mode.verify) {
    const report = await verifyProjection(stores.events, stores.users, () =>
      readPendingWork(shards.map((s) => s.queues)),
    );
    out.result(report, () =>
      [
        `${report.matching} of ${report.aggregates} users match the fold of their ${report.events} events.`,
        ...(report.unlinked
          ? [
              `  (${report.unlinked} event(s) in no stream: written by jobs that lost their version and ended without it)`,
            ]
          : []),
        ...report.mismatches.map((m) => `  MISMATCH ${m.userId}: ${m.problem}`),
        ...report.explained.map(
          (m) => `  pending  ${m.userId}: ${m.problem} — job(s) ${m.pendingJobs?.join(', ')} not finished yet`,
        ),
        ...report.duplicateEvents.map((d) => `  DUPLICATE job ${d.jobId} has ${d.count} events on user ${d.userId}`),
        ...(report.mismatches.length ? ['Fix: stop the workers, then djq replay --rebuild'] : []),
      ].join('\n'),
    );
    return report.mismatches.length === 0 && report.duplicateEvents.length === 0 ? 0 : 1;
  }
  const result = await rebuildProjection(stores.events, stores.users);
  out.result(result, () =>
    [
      `Rebuilt the projection of ${result.aggregates} users: ${result.written} row(s) rewritten, ${result.removed} without events removed.`,
      ...(result.unfoldable.length ? [`Could not fold (left alone): ${result.unfoldable.join(', ')}`] : []),
    ].join('\n'),
  );
  return result.unfoldable.length === 0 ? 0 : 1;
}
