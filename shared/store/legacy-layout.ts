// Tables written by 0.1.0 keyed each event by its version (`USER#<id>` / `EVENT#<10-digit version>`);
// since then events are keyed by the job that wrote them (`EVENT#<jobId>`) and the user's STATE
// head carries what the write path reads (recentJobs, createdBy, bars). Such a table has only the
// department index and no SCHEMA item, so it reads as schema 1; "migrating" it would add the job
// indexes and record schema 2 over events this release cannot read. No in-place migration exists:
// it is found here and refused, before anything is written, with what to do instead.
import { type DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { keys } from '../dynamo/table.js';
import { LegacyLayoutError } from './errors.js';

/** 0.1.0's event sort key: EVENT# and the version zero-padded to 10 digits. */
const VERSION_KEYED_EVENT = /^EVENT#\d{10}$/;

/**
 * The key of one 0.1.0 event item, if the table has any. Reads only the event items' keys and stops
 * at the first match; called only for a table with no SCHEMA item that lacks indexes (one that needs
 * a migration), so a current table never pays for the scan.
 */
export async function findVersionKeyedEvent(
  doc: DynamoDBDocumentClient,
  tableName: string,
): Promise<{ pk: string; sk: string } | undefined> {
  const pages = paginateScan(
    { client: doc, pageSize: 1000 },
    {
      TableName: tableName,
      FilterExpression: 'begins_with(sk, :events)',
      ProjectionExpression: 'pk, sk',
      ExpressionAttributeValues: { ':events': keys.eventPrefix },
    },
  );
  for await (const page of pages) {
    const found = (page.Items ?? []).find((item) => VERSION_KEYED_EVENT.test(String(item.sk)));
    if (found) return { pk: String(found.pk), sk: String(found.sk) };
  }
  return undefined;
}

/** Throws LegacyLayoutError when `tableName` holds 0.1.0's event layout. */
export async function refuseLegacyLayout(doc: DynamoDBDocumentClient, tableName: string): Promise<void> {
  const found = await findVersionKeyedEvent(doc, tableName);
  if (found) throw new LegacyLayoutError(tableName, `${found.pk} / ${found.sk}`);
}
