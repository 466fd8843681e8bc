// The single-table layout: events, the users projection and the job history live in one table
// under generic pk/sk keys (one table is what Monk's table entity and the seed's
// DYNAMODB_TABLE_NAME give us), with one GSI for the department query.

import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';

export const DEPARTMENT_INDEX = 'gsi1-department';

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
} as const;

export async function ensureTable(client: DynamoDBClient, tableName: string, timeoutMs = 60_000): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'gsi1pk', AttributeType: 'S' },
          { AttributeName: 'gsi1sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: DEPARTMENT_INDEX,
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  } catch (error) {
    // Another process created it first: fine, wait for ACTIVE below.
    if ((error as Error).name !== 'ResourceInUseException') throw error;
  }
  await waitForActive(client, tableName, timeoutMs);
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
