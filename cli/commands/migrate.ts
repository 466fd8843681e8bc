// djq migrate: brings a table made by an earlier release to the current schema (the job search
// indexes and their keys on existing records), then records the schema version. Safe to rerun.
import { migrateTable, readSchema } from '../../shared/store/migrate.js';
import type { CliContext } from '../context.js';
import type { Output } from '../output.js';

export async function migrate(ctx: CliContext, out: Output): Promise<number> {
  const clients = ctx.dynamoClients();
  const table = ctx.config.DYNAMODB_TABLE_NAME;
  const before = await readSchema(clients.client, table);
  const report = await migrateTable(clients, table, {
    retentionDays: ctx.config.HISTORY_RETENTION_DAYS,
    onProgress: (message) => {
      if (!out.json) process.stderr.write(`  ${message}\n`);
    },
  });
  out.result({ table, ...report, before }, () =>
    [
      `Table ${table}: schema ${report.from} -> ${report.to}.`,
      report.indexesAdded.length > 0 ? `Indexes added: ${report.indexesAdded.join(', ')}.` : 'Every index was there.',
      `Index keys set on ${report.recordsBackfilled} job record(s).`,
    ].join('\n'),
  );
  return 0;
}
