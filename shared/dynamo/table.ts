// The single-table layout: events, the users projection and the job history live in one table
// under generic pk/sk keys (one table is what Monk's table entity and the seed's
// DYNAMODB_TABLE_NAME give us), with a GSI for the department query and three for finding jobs
// (by user, by time within a state, and by operation: see shared/store/job-index.ts). Tables made before the job
// indexes are brought up to date by `djq migrate` (shared/store/migrate.ts).

import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';

export const DEPARTMENT_INDEX = 'gsi1-department';
/** Jobs by the user they touch: USERJOBS#<userId> / <acceptedAt>#<jobId>. */
export const USER_JOBS_INDEX = 'gsi2-user-jobs';
/** Jobs by time, sharded: JOBS#<bucket> (accepted) and STATE#<outcome>#<bucket> (decided) / <at>#<jobId>. */
export const JOBS_BY_TIME_INDEX = 'gsi3-jobs-by-time';
/**
 * Jobs by operation and time, sharded: OP#<op>#<bucket> (accepted) and
 * STATE#<outcome>#OP#<op>#<bucket> (decided) / <at>#<jobId>. A filter on an operation reads only
 * its jobs, not every job of the state (one in ten, in the bench's mix).
 */
export const JOBS_BY_OP_INDEX = 'gsi4-jobs-by-op';

/**
 * The schema this release writes and reads: 1 had the department index only; 2 adds the job
 * indexes and their keys on every job record (backfilled by `djq migrate`); 3 adds the
 * by-operation index (gsi4) and its keys.
 */
export const SCHEMA_VERSION = 3;

/**
 * How many partitions the by-time keys spread over: every accepted job writes one, so a single
 * JOBS key would take the whole write rate on one index partition (about 1,000 writes/s each).
 */
export const JOB_INDEX_BUCKETS = 8;

/** Key builders: the only place that knows how items are keyed. */
export const keys = {
  userPk: (userId: string) => `USER#${userId}`,
  /**
   * Keyed by the job, not the version: one job has at most one event per user by construction, and
   * "did job X write an event for this user?" is one GetItem whatever the stream's length.
   */
  eventSk: (jobId: string) => `EVENT#${jobId}`,
  eventPrefix: 'EVENT#',
  stateSk: 'STATE',
  departmentPk: (department: string) => `DEPT#${department}`,
  jobPk: (jobId: string) => `JOB#${jobId}`,
  historyPrefix: 'HISTORY#',
  /** The job as the producer accepted it (JOB#<id>), written before it goes to Redis. */
  acceptedSk: 'ACCEPTED',
  /** The job's outcome record (JOB#<id>): the one item each generation's outcome is decided on. */
  outcomeSk: 'OUTCOME',
  /** The epoch of a queue's Redis data: META / EPOCH#<queue>. */
  metaPk: 'META',
  epochSk: (queue: string) => `EPOCH#${queue}`,
  /** The table's schema version: META / SCHEMA. */
  schemaSk: 'SCHEMA',
  /** A job's link to a user it touches beyond the first (batches): JOB#<id> / TOUCHES#<userId>. */
  touchesSk: (userId: string) => `TOUCHES#${userId}`,
  userJobsPk: (userId: string) => `USERJOBS#${userId}`,
  jobsPk: (bucket: number) => `JOBS#${bucket}`,
  statePk: (state: string, bucket: number) => `STATE#${state}#${bucket}`,
  opPk: (op: string, bucket: number) => `OP#${op}#${bucket}`,
  stateOpPk: (state: string, op: string, bucket: number) => `STATE#${state}#OP#${op}#${bucket}`,
  /** Sorts by time, then job id: unique, so one value is a cursor for every bucket. */
  timeSk: (at: string, jobId: string) => `${at}#${jobId}`,
} as const;

const indexOn = (name: string, pk: string, sk: string) => ({
  IndexName: name,
  KeySchema: [
    { AttributeName: pk, KeyType: 'HASH' as const },
    { AttributeName: sk, KeyType: 'RANGE' as const },
  ],
  // The job indexes hold keys only: a search reads the records it shows by key (a page at most).
  Projection: { ProjectionType: name === DEPARTMENT_INDEX ? ('ALL' as const) : ('KEYS_ONLY' as const) },
});

/** Every index of the current schema, with the key attributes it needs defined. */
export const TABLE_INDEXES = [
  { index: indexOn(DEPARTMENT_INDEX, 'gsi1pk', 'gsi1sk'), attributes: ['gsi1pk', 'gsi1sk'] },
  { index: indexOn(USER_JOBS_INDEX, 'gsi2pk', 'gsi2sk'), attributes: ['gsi2pk', 'gsi2sk'] },
  { index: indexOn(JOBS_BY_TIME_INDEX, 'gsi3pk', 'gsi3sk'), attributes: ['gsi3pk', 'gsi3sk'] },
  { index: indexOn(JOBS_BY_OP_INDEX, 'gsi4pk', 'gsi4sk'), attributes: ['gsi4pk', 'gsi4sk'] },
] as const;

const attributeDefinition = (name: string) => ({ AttributeName: name, AttributeType: 'S' as const });

/** The CreateTable input of the current schema (Monk's table entity holds the same definition). */
export function tableDefinition(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: ['pk', 'sk', ...TABLE_INDEXES.flatMap((i) => i.attributes)].map(attributeDefinition),
    KeySchema: [
      { AttributeName: 'pk', KeyType: 'HASH' as const },
      { AttributeName: 'sk', KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: TABLE_INDEXES.map((i) => i.index),
  };
}

/** The definition of one index, with its attributes: what an UpdateTable that adds it sends. */
export function indexDefinition(name: string) {
  const found = TABLE_INDEXES.find((i) => i.index.IndexName === name);
  if (!found) throw new Error(`no index ${name} in the schema`);
  return { index: found.index, attributes: found.attributes.map(attributeDefinition) };
}

/**
 * Creates the table with the current schema if it does not exist, and records its schema version
 * (a table created now needs no migration). A table that exists is left as it is: whether its
 * schema is current is shared/store/migrate.ts's question.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string, timeoutMs = 60_000): Promise<void> {
  let created = false;
  try {
    await client.send(new CreateTableCommand(tableDefinition(tableName)));
    created = true;
  } catch (error) {
    // Another process created it first: fine, wait for ACTIVE below.
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  }
  await waitForActive(client, tableName, timeoutMs);
  if (created) await writeSchemaVersion(client, tableName, SCHEMA_VERSION);
}

/** Records the schema version, never lowering it (two migrations at once both end at the highest). */
export async function writeSchemaVersion(client: DynamoDBClient, tableName: string, version: number): Promise<void> {
  try {
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          pk: { S: keys.metaPk },
          sk: { S: keys.schemaSk },
          version: { N: String(version) },
          at: { S: new Date().toISOString() },
        },
        ConditionExpression: 'attribute_not_exists(version) OR version < :v',
        ExpressionAttributeValues: { ':v': { N: String(version) } },
      }),
    );
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
  }
}

/** The recorded schema version; undefined when the table has no SCHEMA item. */
export async function readSchemaVersion(client: DynamoDBClient, tableName: string): Promise<number | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { pk: { S: keys.metaPk }, sk: { S: keys.schemaSk } },
      ConsistentRead: true,
    }),
  );
  return Item?.version?.N === undefined ? undefined : Number(Item.version.N);
}

export async function waitForActive(client: DynamoDBClient, tableName: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
      if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become ACTIVE within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Checks that the table answers (readiness probes, CLI start-up). */
export async function describeTable(client: DynamoDBClient, tableName: string) {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  return Table;
}
