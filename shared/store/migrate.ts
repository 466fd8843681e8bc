// Brings a table made by an earlier release up to the current schema: adds the indexes it lacks
// (UpdateTable, one index per call, as DynamoDB allows), backfills the index keys onto the job
// records written before them, then records the schema version. Each step is safe to repeat, so a
// migration that dies is run again. Services check the version before they start (requireSchema).

import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeTableCommand, type DynamoDBClient, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  paginateScan,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  indexDefinition,
  keys,
  readSchemaVersion,
  SCHEMA_VERSION,
  TABLE_INDEXES,
  waitForActive,
  writeSchemaVersion,
} from '../dynamo/table.js';
import { retryTransient } from '../runtime/retry.js';
import { isConditionFailure } from './conditional.js';
import { SchemaTooOldError } from './errors.js';
import { acceptedIndexKeys, outcomeIndexKeys, touchItems } from './job-index.js';
import { refuseLegacyLayout } from './legacy-layout.js';
import type { JobOutcome, OutcomeMark } from './types.js';

export interface SchemaState {
  /** The SCHEMA item's version; undefined on a table no release of 0.4 or later has touched. */
  recorded?: number;
  /** The version that stands: the recorded one, else inferred from the indexes the table has. */
  version: number;
  missingIndexes: string[];
}

export interface MigrationReport {
  from: number;
  to: number;
  indexesAdded: string[];
  recordsBackfilled: number;
}

type Clients = { client: DynamoDBClient; doc: DynamoDBDocumentClient };

export async function readSchema(client: DynamoDBClient, tableName: string): Promise<SchemaState> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  const missingIndexes = TABLE_INDEXES.map((i) => i.index.IndexName).filter((name) => !present.has(name));
  const recorded = await readSchemaVersion(client, tableName);
  // No SCHEMA item: a table created with every index (by ensureTable racing us, or by Monk's table
  // entity) is current; one without them is of the first schema. A migration records 1 before it
  // adds anything, so a half-migrated table never passes for current.
  const version = recorded ?? (missingIndexes.length === 0 ? SCHEMA_VERSION : 1);
  return { ...(recorded !== undefined ? { recorded } : {}), version, missingIndexes };
}

/**
 * What a service does before it starts: nothing when the schema is current, a migration when it
 * may change the table (CREATE_TABLES=true), else a SchemaTooOldError that says what to run.
 */
export async function requireSchema(
  clients: Clients,
  tableName: string,
  options: {
    migrate: boolean /** Start anyway when the table cannot be read (the board: /readyz says). */;
    unreadable?: 'throw' | 'ignore';
    /** HISTORY_RETENTION_DAYS: what a migration gives the index items that expire with the history. */
    retentionDays: number;
  },
): Promise<MigrationReport | undefined> {
  let state: SchemaState;
  try {
    // Transient trouble (a throttle, a 5xx) is retried briefly: one must not stop a service at start.
    state = await retryTransient(() => readSchema(clients.client, tableName));
  } catch (error) {
    if (options.unreadable === 'ignore') return undefined;
    throw error;
  }
  if (state.version >= SCHEMA_VERSION && state.missingIndexes.length === 0) return undefined;
  await refuseLegacyLayout(clients.doc, tableName); // 0.1.0's layout: no migration, one clear message
  if (!options.migrate) throw new SchemaTooOldError(tableName, state.version, SCHEMA_VERSION);
  return migrateTable(clients, tableName, { retentionDays: options.retentionDays });
}

export async function migrateTable(
  clients: Clients,
  tableName: string,
  options: { timeoutMs?: number; onProgress?: (message: string) => void; retentionDays: number },
): Promise<MigrationReport> {
  const progress = options.onProgress ?? (() => undefined);
  const before = await readSchema(clients.client, tableName);
  await refuseLegacyLayout(clients.doc, tableName); // before anything is written
  if (before.recorded === undefined) await writeSchemaVersion(clients.client, tableName, 1);
  for (const name of before.missingIndexes) {
    progress(`adding index ${name} (DynamoDB builds it online; this waits until it is ACTIVE)`);
    await addIndex(clients.client, tableName, name, options.timeoutMs ?? 30 * 60_000);
  }
  progress('backfilling the index keys of existing job records');
  const recordsBackfilled = await backfill(clients.doc, tableName, options.retentionDays);
  await writeSchemaVersion(clients.client, tableName, SCHEMA_VERSION);
  return { from: before.version, to: SCHEMA_VERSION, indexesAdded: before.missingIndexes, recordsBackfilled };
}

async function addIndex(client: DynamoDBClient, tableName: string, name: string, timeoutMs: number): Promise<void> {
  const { index, attributes } = indexDefinition(name);
  await client.send(
    new UpdateTableCommand({
      TableName: tableName,
      AttributeDefinitions: attributes,
      GlobalSecondaryIndexUpdates: [{ Create: index }],
    }),
  );
  await waitForActive(client, tableName, timeoutMs);
  const { missingIndexes } = await readSchema(client, tableName);
  // dynalite accepts the call and creates nothing: say so rather than record a schema it lacks.
  if (missingIndexes.includes(name))
    throw new Error(
      `table ${tableName}: UpdateTable to add index ${name} succeeded but the index does not exist ` +
        '(local emulators such as dynalite do not add indexes to an existing table: delete and recreate a local table)',
    );
}

/**
 * Sets the index keys on every ACCEPTED and decided OUTCOME item (and adds TOUCHES items, with the
 * history's expiry). Idempotent. Schema 3: an OUTCOME item is filed by operation too, which only its
 * ACCEPTED item names; a scan returns a job's items together, ACCEPTED first, so that is the one
 * just seen (read back by key otherwise).
 */
async function backfill(doc: DynamoDBDocumentClient, tableName: string, retentionDays: number): Promise<number> {
  let count = 0;
  let lastAccepted: { pk: unknown; name: string } | undefined;
  const opOf = async (pk: unknown): Promise<string | undefined> => {
    const last = lastAccepted;
    if (last !== undefined && last.pk === pk) return last.name;
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk, sk: keys.acceptedSk } }));
    return typeof Item?.name === 'string' ? Item.name : undefined;
  };
  const pages = paginateScan(
    { client: doc },
    {
      TableName: tableName,
      FilterExpression: 'begins_with(pk, :job) AND (sk = :a OR (sk = :o AND attribute_exists(outcome)))',
      ExpressionAttributeValues: { ':job': 'JOB#', ':a': keys.acceptedSk, ':o': keys.outcomeSk },
    },
  );
  for await (const page of pages) {
    for (const item of page.Items ?? []) {
      if (item.sk === keys.acceptedSk) {
        lastAccepted = { pk: item.pk, name: String(item.name) };
        await backfillAccepted(doc, tableName, item, retentionDays);
      } else await backfillOutcome(doc, tableName, item, opOf);
      count++;
    }
  }
  return count;
}

type Item = Record<string, unknown>;

/** An ACCEPTED item's index keys and its TOUCHES items (an acceptance never changes: set as read). */
async function backfillAccepted(doc: DynamoDBDocumentClient, tableName: string, item: Item, retentionDays: number) {
  const jobId = String(item.pk).slice('JOB#'.length);
  const at = String(item.at);
  await setKeys(doc, tableName, item, acceptedIndexKeys(jobId, String(item.name), item.data, at));
  await putAll(doc, tableName, touchItems(jobId, String(item.name), item.data, at, retentionDays));
}

/**
 * A decided OUTCOME item's index keys, set only while it is still the decision the scan read: a
 * worker or operator may redrive, purge or decide the job between the scan and this write (the
 * migration runs while they work), and keys computed from the stale read would file it under an
 * outcome it no longer has. A changed item is read again and its keys computed anew; one that is
 * open (redriven) has none to set.
 */
async function backfillOutcome(
  doc: DynamoDBDocumentClient,
  tableName: string,
  scanned: Item,
  opOf: (pk: unknown) => Promise<string | undefined>,
): Promise<void> {
  const jobId = String(scanned.pk).slice('JOB#'.length);
  let item: Item | undefined = scanned;
  for (let attempt = 0; item?.outcome !== undefined; attempt++) {
    if (attempt >= 5) throw new Error(`job ${jobId}: its outcome kept changing while its index keys were backfilled`);
    const at = (item.marks as OutcomeMark[]).at(-1)?.at ?? '';
    const indexKeys = outcomeIndexKeys(jobId, item.outcome as JobOutcome, at, await opOf(item.pk));
    const still = { outcome: item.outcome, gen: item.gen };
    if (await setKeys(doc, tableName, item, indexKeys, still).then(() => true, ifChanged)) return;
    item = (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: item.pk, sk: item.sk } }))).Item;
  }
}

/** False for a conditional write that found the item changed; anything else is thrown. */
const ifChanged = (error: unknown): false => {
  if (isConditionFailure(error)) return false;
  throw error;
};

/** SETs `indexKeys` on the item, on condition that its attributes in `unchanged` are as given. */
async function setKeys(
  doc: DynamoDBDocumentClient,
  tableName: string,
  item: Item,
  indexKeys: Record<string, string>,
  unchanged: Record<string, unknown> = {},
): Promise<void> {
  const names = Object.keys(indexKeys);
  const conditions = Object.keys(unchanged);
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk: item.pk, sk: item.sk },
      UpdateExpression: `SET ${names.map((n) => `#${n} = :${n}`).join(', ')}`,
      ...(conditions.length > 0
        ? { ConditionExpression: conditions.map((c) => `#${c} = :was_${c}`).join(' AND ') }
        : {}),
      ExpressionAttributeNames: Object.fromEntries([...names, ...conditions].map((n) => [`#${n}`, n])),
      ExpressionAttributeValues: Object.fromEntries([
        ...names.map((n) => [`:${n}`, indexKeys[n]]),
        ...conditions.map((c) => [`:was_${c}`, unchanged[c]]),
      ]),
    }),
  );
}

/** Puts up to 25 items, retrying what DynamoDB leaves unprocessed (a batch has at most 24 touches). */
async function putAll(doc: DynamoDBDocumentClient, tableName: string, items: Record<string, unknown>[]): Promise<void> {
  let requests = items.map((Item) => ({ PutRequest: { Item } }));
  for (let round = 0; requests.length > 0; round++) {
    if (round >= 8) throw new Error(`${requests.length} index items stayed unprocessed after ${round} rounds`);
    if (round > 0) await sleep(Math.min(1000, 25 * 2 ** round));
    const out = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
    requests = (out.UnprocessedItems?.[tableName] ?? []) as typeof requests;
  }
}
