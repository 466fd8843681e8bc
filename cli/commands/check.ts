// djq check: the ledger checker against a live or finished stack. Exits 1 if any job was lost or
// applied twice, a projection row differs from its events, or DynamoDB's job records show a job
// with two outcomes, a dead-lettered job with its effect, or accepted work Redis no longer holds.
import { checkPassed, checkShards } from '../../shared/operator/check.js';
import type { CliContext } from '../context.js';
import type { Output } from '../output.js';

export async function check(ctx: CliContext, out: Output): Promise<number> {
  const { shards, stores } = await ctx.system();
  const report = await checkShards({ shards, stores });
  const passed = checkPassed(report);
  const d = report.decisions;
  out.result(report, () =>
    [
      `enqueued since ${report.since} (the ledger's window): ${report.enqueued}; completed ${report.completed}, dead-lettered ${report.deadLettered}, purged ${report.purged}, pending ${report.pending}`,
      `lost ${report.lost} · duplicated ${report.duplicated} · projection mismatches ${report.projectionMismatches} · DLQ entries without reason ${report.deadLettersWithoutReason}`,
      `DynamoDB's job records: ${d.records}; undecided ${d.undecided} · undecided and in no Redis queue ${d.undecidedNotInRedis} · two outcomes ${d.twoOutcomes} · dead-lettered with effect ${d.deadLetteredWithEffect} · completed without effect ${d.completedWithoutEffect}`,
      ...(d.undecidedNotInRedis > 0 ? ['Redis lost accepted jobs: run `djq recover` to re-enqueue them.'] : []),
      ...report.epochs.flatMap((state, shard) =>
        state === 'redis-lost'
          ? [`shard ${shard}: Redis lost its data (the table has an epoch, Redis none): run \`djq recover\`.`]
          : state === 'mismatch'
            ? [
                `shard ${shard}: Redis and DynamoDB belong to different runs (their epochs differ): nothing above can be trusted.`,
              ]
            : [],
      ),
      ...(d.examples.length ? [`records e.g.: ${d.examples.join('; ')}`] : []),
      ...(report.examples.lost.length ? [`lost e.g.: ${report.examples.lost.join(', ')}`] : []),
      ...(report.examples.duplicated.length ? [`duplicated e.g.: ${report.examples.duplicated.join(', ')}`] : []),
      ...(report.examples.mismatched.length ? [`mismatched e.g.: ${report.examples.mismatched.join('; ')}`] : []),
      passed ? 'OK: nothing lost, nothing applied twice.' : 'FAILED: see the figures above.',
    ].join('\n'),
  );
  return passed ? 0 : 1;
}
