// A table written by 0.1.0 (events keyed `EVENT#<10-digit version>`, the department index only, no
// SCHEMA item) reads as schema 1. Migrating it would record schema 2 over events this release cannot
// read: services at start (even with CREATE_TABLES=true), `migrateTable` and `djq migrate` refuse it
// with one message that says what to do, and write nothing.
import { randomUUID } from 'node:crypto';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSchemaVersion, TABLE_INDEXES } from '../../shared/dynamo/table.js';
import { openDynamo } from '../../shared/runtime/bootstrap.js';
import { LegacyLayoutError } from '../../shared/store/errors.js';
import { findVersionKeyedEvent } from '../../shared/store/legacy-layout.js';
import { migrateTable, readSchema, requireSchema } from '../../shared/store/migrate.js';
import { createSchemaOneTable } from '../helpers/old-tables.js';
import { silentLogger } from '../helpers/pipeline.js';
import { startService } from '../helpers/processes.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const env = testEnv();
const legacy = testEnv();
const table = legacy.config.DYNAMODB_TABLE_NAME;
const userId = randomUUID();
let resources: TestResources;

/** What 0.1.0's ensureTable created (git show 0a05258:shared/dynamo/table.ts). */
async function createTableAsZeroOneZero(): Promise<void> {
  await createSchemaOneTable(resources.dynamo.client, table);
}

/** A user as 0.1.0 wrote it: two events keyed by version, and a STATE item with the version only. */
async function writeUserAsZeroOneZero(): Promise<void> {
  const user = { id: userId, name: 'Ada', email: 'ada@example.com', age: 36, department: 'eng' };
  const at = new Date().toISOString();
  const items = [
    {
      pk: `USER#${userId}`,
      sk: 'EVENT#0000000001',
      userId,
      version: 1,
      type: 'UserCreated',
      data: user,
      jobId: randomUUID(),
      at,
    },
    {
      pk: `USER#${userId}`,
      sk: 'EVENT#0000000002',
      userId,
      version: 2,
      type: 'UserUpdated',
      data: { age: 37 },
      jobId: randomUUID(),
      at,
    },
    {
      pk: `USER#${userId}`,
      sk: 'STATE',
      userId,
      version: 2,
      user: { ...user, age: 37 },
      gsi1pk: 'DEPT#eng',
      gsi1sk: `USER#${userId}`,
    },
  ];
  for (const Item of items) await resources.dynamo.doc.send(new PutCommand({ TableName: table, Item }));
}

beforeAll(async () => {
  resources = await openTestResources(env.config);
  await createTableAsZeroOneZero();
  await writeUserAsZeroOneZero();
});
afterAll(async () => {
  await resources.dynamo.client.send(new DeleteTableCommand({ TableName: table }));
  await resources.cleanup();
});

describe('a table written by 0.1.0', () => {
  it('is found by its version-keyed events; a current table is not', async () => {
    expect(await readSchema(resources.dynamo.client, table)).toMatchObject({ version: 1 });
    expect(await findVersionKeyedEvent(resources.dynamo.doc, table)).toEqual({
      pk: `USER#${userId}`,
      sk: 'EVENT#0000000001',
    });
    expect(await findVersionKeyedEvent(resources.dynamo.doc, env.config.DYNAMODB_TABLE_NAME)).toBeUndefined();
  });

  it('is refused, whether a migration is allowed or not, and nothing is written', async () => {
    for (const migrate of [true, false]) {
      const refused = requireSchema(resources.dynamo, table, { migrate, retentionDays: 30 });
      await expect(refused).rejects.toBeInstanceOf(LegacyLayoutError);
      await expect(refused).rejects.toThrow(/written by djq 0\.1\.0.*EVENT#0000000001.*new table/);
    }
    await expect(migrateTable(resources.dynamo, table, { retentionDays: 30 })).rejects.toBeInstanceOf(
      LegacyLayoutError,
    );
    expect(await readSchemaVersion(resources.dynamo.client, table)).toBeUndefined();
    // Every index but the department one is still missing: nothing was added.
    expect((await readSchema(resources.dynamo.client, table)).missingIndexes).toEqual(
      TABLE_INDEXES.map((d) => d.index.IndexName).filter((n) => n !== 'gsi1-department'),
    );
  });

  it('stops a service at start even with CREATE_TABLES=true', async () => {
    const config = { ...legacy.config, CREATE_TABLES: true };
    await expect(openDynamo(config, silentLogger)).rejects.toBeInstanceOf(LegacyLayoutError);
  });

  it('makes djq migrate exit with the message', async () => {
    const cli = startService('cli/djq.ts', { ...legacy.env, DYNAMODB_TABLE_NAME: table }, ['migrate']);
    const { code } = await cli.exited;
    expect(code).not.toBe(0);
    expect(cli.output()).toMatch(/written by djq 0\.1\.0/);
    expect(await readSchemaVersion(resources.dynamo.client, table)).toBeUndefined();
  });
});
