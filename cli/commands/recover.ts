// djq recover [--dry-run] [--rate N]: rebuilds Redis from DynamoDB's job records after Redis lost
// data (FLUSHALL, a failover that dropped the last writes, a new empty server). Shows what it
// would do with --dry-run; progress on stderr as it goes, so stdout stays one result.
import { recoverFromRecords } from '../../shared/operator/recover.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import type { Output } from '../output.js';
import { refuseMixedRuns } from '../run-identity.js';

export async function recover(
  ctx: CliContext,
  out: Output,
  options: { dryRun: boolean; rate?: string; force?: boolean },
): Promise<number> {
  const rate = options.rate === undefined ? undefined : Number(options.rate);
  if (rate !== undefined && !(Number.isFinite(rate) && rate > 0))
    throw new UsageError(`--rate must be a positive number of jobs per second, got "${options.rate}"`);
  const system = await ctx.system();
  await refuseMixedRuns(system.shards, options.force === true);
  const before = await Promise.all(system.shards.map((s) => s.checkEpoch()));
  const report = await recoverFromRecords(system, {
    dryRun: options.dryRun,
    ...(rate ? { ratePerSecond: rate } : {}),
    onProgress: (r) => {
      if (!out.json)
        process.stderr.write(
          `  read ${r.records} records; re-enqueued ${r.reEnqueued}, DLQ entries restored ${r.deadLettersRestored}\n`,
        );
    },
  });
  out.result({ ...report, epochsBefore: before.map((e) => e.state) }, () =>
    [
      options.dryRun ? 'Dry run: nothing was changed.' : 'Recovered Redis from DynamoDB.',
      `Read ${report.records} job records: ${report.reEnqueued} accepted job(s) with no outcome ${options.dryRun ? 'would be' : 'were'} re-enqueued, ${report.deadLettersRestored} DLQ entr${report.deadLettersRestored === 1 ? 'y' : 'ies'} ${options.dryRun ? 'would be' : 'were'} restored, ${report.alreadyInRedis} still in Redis.`,
      ...(report.examples.length ? [`e.g. ${report.examples.join(', ')}`] : []),
      options.dryRun ? 'Run without --dry-run to do it.' : 'Completed, dead-lettered and purged jobs were left alone.',
      ...(report.lostDuringRecovery.length
        ? [
            `Redis lost its data again while this ran (shard ${report.lostDuringRecovery.join(', ')}): its epoch was not restored. Run djq recover again.`,
          ]
        : []),
      ...(report.busy.length
        ? [
            `${report.busy.length} job(s) were held by a worker or an operator past the wait and may still be missing from Redis (e.g. ${report.busy.slice(0, 5).join(', ')}); their shards' epochs were not restored. Run djq recover again.`,
          ]
        : []),
    ].join('\n'),
  );
  return report.lostDuringRecovery.length > 0 || report.busy.length > 0 ? 1 : 0;
}
