// djq replay --verify | --rebuild: check the users projection against the events, or rebuild it.
// A rebuild races any worker that writes beside it, so it refuses while one is live (--force).
import { readPendingWork } from '../../shared/operator/pending-work.js';
import { rebuildProjection, verifyProjection } from '../../shared/operator/replay.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import type { Output } from '../output.js';
import { refuseMixedRuns } from '../run-identity.js';

export async function replay(
  ctx: CliContext,
  out: Output,
  mode: { verify: boolean; rebuild: boolean; force?: boolean },
): Promise<number> {
  if (mode.verify === mode.rebuild) throw new UsageError('replay needs exactly one of --verify or --rebuild');
  if (mode.force && !mode.rebuild) throw new UsageError('--force goes with replay --rebuild');
  const { stores, shards } = await ctx.system();
  await refuseMixedRuns(shards, mode.force === true);
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
  // BullMQ names every worker's connection after its queue: CLIENT LIST shows who is live.
  const workers = (await Promise.all(shards.map((s) => s.queues.operations.getWorkers()))).flat();
  const names = workers.map((w) => w.name).filter((n): n is string => typeof n === 'string');
  const plan = `rewrite every user row of table ${ctx.config.DYNAMODB_TABLE_NAME} from the fold of its events, and remove rows without events`;
  if (workers.length > 0 && !mode.force) {
    process.stderr.write(
      `djq replay --rebuild would ${plan}, but ${workers.length} worker connection(s) are live on queue ${ctx.config.QUEUE_NAME}` +
        ` (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}): a worker writing beside the rebuild races it.\n` +
        'Stop the workers first, or add --force to rebuild anyway. Nothing was changed.\n',
    );
    return 1;
  }
  if (!out.json) {
    process.stderr.write(
      `Rebuilding: ${plan}${workers.length > 0 ? ` (--force: ${workers.length} worker connection(s) live)` : ''}.\n`,
    );
  }
  const result = await rebuildProjection(stores.events, stores.users);
  out.result({ ...result, plan, liveWorkers: workers.length }, () =>
    [
      `Rebuilt the projection of ${result.aggregates} users: ${result.written} row(s) rewritten, ${result.removed} without events removed.`,
      ...(result.unfoldable.length ? [`Could not fold (left alone): ${result.unfoldable.join(', ')}`] : []),
    ].join('\n'),
  );
  return result.unfoldable.length === 0 ? 0 : 1;
}
