// The job indexes on real dynalite: a job is found by the users it touches and by time within its
// state, across buckets and pages, and follows its outcome through a redrive and a purge. And the
// migration of a table made the old way (no job indexes): services refuse it, `migrateTable`
// backfills the keys a new write would have written and records the schema version.
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBoard } from '../../board/board-server.js';
import {
  JOBS_BY_OP_INDEX,
  keys,
  readSchemaVersion,
  SCHEMA_VERSION,
  tableDefinition,
  waitForActive,
  writeSchemaVersion,
} from '../../shared/dynamo/table.js';
import { openDynamo } from '../../shared/runtime/bootstrap.js';
import { SchemaTooOldError } from '../../shared/store/errors.js';
import { acceptedIndexKeys, bucketOf, outcomeIndexKeys } from '../../shared/store/job-index.js';
import { migrateTable, readSchema, requireSchema } from '../../shared/store/migrate.js';
import { createSchemaOneTable } from '../helpers/old-tables.js';
import { silentLogger } from '../helpers/pipeline.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const env = testEnv();
let resources: TestResources;
const userA = randomUUID();
const userB = randomUUID();

beforeAll(async () => {
  resources = await openTestResources(env.config);
});
afterAll(async () => {
  await resources.cleanup();
});

/** Every accepted job since `from`, page by page of `limit` (at most `maxPages`); `onPage` sees each page. */
async function acceptedPages(
  from: string,
  limit: number,
  maxPages: number,
  onPage: (jobIds: string[]) => void = () => undefined,
): Promise<{ seen: string[]; pages: number }> {
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await resources.stores.jobs.queryJobs({
      by: { state: 'accepted' },
      from,
      limit,
      ...(cursor ? { cursor } : {}),
    });
    onPage(page.jobs.map((j) => j.jobId));
    seen.push(...page.jobs.map((j) => j.jobId));
    cursor = page.cursor;
    pages++;
  } while (cursor && pages < maxPages);
  return { seen, pages };
}

const newUser = (id: string) => ({ id, name: 'n', email: `${id.slice(0, 8)}@example.com`, age: 30 });

describe('the job indexes', () => {
  it('find a job by every user it touches, oldest first, and page through them', async () => {
    const { jobs } = resources.stores;
    const single = randomUUID();
    const batch = randomUUID();
    await jobs.accept([{ id: single, name: 'create-user', data: { user: newUser(userA) } }]);
    await jobs.accept([{ id: batch, name: 'batch-create-users', data: { users: [newUser(userB), newUser(userA)] } }]);

    const ofA = await jobs.queryJobs({ by: { user: userA }, limit: 10, order: 'oldest' });
    expect(ofA.jobs.map((j) => j.jobId)).toEqual([single, batch]);
    expect(ofA.cursor).toBeUndefined();
    const ofB = await jobs.queryJobs({ by: { user: userB }, limit: 10 });
    expect(ofB.jobs.map((j) => j.jobId)).toEqual([batch]);

    const first = await jobs.queryJobs({ by: { user: userA }, limit: 1, order: 'oldest' });
    expect(first.jobs.map((j) => j.jobId)).toEqual([single]);
    const second = await jobs.queryJobs({ by: { user: userA }, limit: 1, order: 'oldest', cursor: first.cursor });
    expect(second.jobs.map((j) => j.jobId)).toEqual([batch]);
  });

  it('list jobs by time across every bucket, newest first, in pages that neither skip nor repeat', async () => {
    const { jobs } = resources.stores;
    const from = new Date().toISOString();
    const ids: string[] = [];
    // One accept per job: each gets its own time, so the expected order is the order written.
    for (let i = 0; i < 12; i++) {
      const id = `${i}-${randomUUID()}`;
      ids.push(id);
      await jobs.accept([{ id, name: 'get-user', data: { userId: randomUUID() } }]);
    }
    const { seen, pages } = await acceptedPages(from, 5, 10);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
  });

  it('page correctly when one bucket holds far more than its share (each bucket is read for a share only)', async () => {
    // Arrange: 15 jobs, all in bucket 0, and a page of 10 (each bucket is asked for 4).
    const { jobs } = resources.stores;
    const from = new Date().toISOString();
    const ids: string[] = [];
    while (ids.length < 15) {
      const id = randomUUID();
      if (bucketOf(id) !== 0) continue;
      ids.push(id);
      await jobs.accept([{ id, name: 'get-user', data: { userId: randomUUID() } }]);
    }

    // Act
    const { seen, pages } = await acceptedPages(from, 10, 20, (page) => expect(page.length).toBeLessThanOrEqual(10));

    // Assert: every job once, newest first, in more pages than a full page each would take.
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBeGreaterThan(2);
  });

  it('file a decided job under its outcome, and move it on a redrive and a purge', async () => {
    const { jobs } = resources.stores;
    const from = new Date().toISOString();
    const id = randomUUID();
    await jobs.accept([{ id, name: 'get-user', data: { userId: randomUUID() } }]);
    const inState = async (state: 'completed' | 'dead-lettered' | 'purged') =>
      (await jobs.queryJobs({ by: { state }, from, limit: 50 })).jobs.map((j) => j.jobId).includes(id);

    await jobs.decide(id, 'dead-lettered', 'test', { op: 'get-user', reason: 'PoisonPayloadError: bad' });
    expect(await inState('dead-lettered')).toBe(true);
    await jobs.reopen(id, 'test', Date.now());
    expect(await inState('dead-lettered')).toBe(false);
    await jobs.decide(id, 'dead-lettered', 'test', { op: 'get-user', reason: 'again' });
    await jobs.purge(id, 'alice');
    expect([await inState('dead-lettered'), await inState('purged')]).toEqual([false, true]);
    const [record] = await jobs.getMany([id, randomUUID()]);
    expect(record).toMatchObject({ jobId: id, gen: 2, outcome: 'purged' });
    expect(record?.marks.map((m) => `${m.outcome}:${m.by}`)).toEqual([
      'dead-lettered:test',
      'redriven:test',
      'dead-lettered:test',
      'purged:alice',
    ]);
  });

  it('file a job under its operation, accepted and decided, and move it there on a redrive and a purge', async () => {
    // Arrange: one job of each of two operations, in the same second.
    const { jobs } = resources.stores;
    const from = new Date().toISOString();
    const [read, update] = [randomUUID(), randomUUID()];
    await jobs.accept([
      { id: read, name: 'get-user', data: { userId: randomUUID() } },
      { id: update, name: 'update-user', data: { userId: randomUUID(), changes: { age: 31 } } },
    ]);
    const ids = async (by: { state: 'accepted' | 'completed' | 'dead-lettered' | 'purged'; op: string }) =>
      (await jobs.queryJobs({ by, from, limit: 50 })).jobs.map((j) => j.jobId);

    // Act and assert: each is found under its own operation only, in every state it passes through.
    expect(await ids({ state: 'accepted', op: 'get-user' })).toEqual([read]);
    await jobs.decide(read, 'dead-lettered', 'test', { op: 'get-user', reason: 'boom' });
    await jobs.decide(update, 'completed', 'test', { op: 'update-user' });
    expect(await ids({ state: 'dead-lettered', op: 'get-user' })).toEqual([read]);
    expect(await ids({ state: 'completed', op: 'get-user' })).toEqual([]);
    expect(await ids({ state: 'completed', op: 'update-user' })).toEqual([update]);
    await jobs.reopen(read, 'test', Date.now());
    expect(await ids({ state: 'dead-lettered', op: 'get-user' })).toEqual([]);
    await jobs.decide(read, 'dead-lettered', 'test', { op: 'get-user', reason: 'again' });
    await jobs.purge(read, 'alice');
    expect(await ids({ state: 'dead-lettered', op: 'get-user' })).toEqual([]);
    expect(await ids({ state: 'purged', op: 'get-user' })).toEqual([read]);
  });

  it("give a batch's further users' index items the history's expiry, and the records none", async () => {
    const { jobs } = resources.stores;
    const batch = randomUUID();
    const [first, second] = [randomUUID(), randomUUID()];
    await jobs.accept([{ id: batch, name: 'batch-create-users', data: { users: [newUser(first), newUser(second)] } }]);
    const item = async (sk: string) =>
      (
        await resources.dynamo.doc.send(
          new GetCommand({ TableName: env.config.DYNAMODB_TABLE_NAME, Key: { pk: keys.jobPk(batch), sk } }),
        )
      ).Item;

    const accepted = await item(keys.acceptedSk);
    const touches = await item(keys.touchesSk(second));

    expect(touches?.expiresAt).toBe(
      Math.floor(Date.parse(String(accepted?.at)) / 1000) + env.config.HISTORY_RETENTION_DAYS * 86_400,
    );
    expect(accepted).not.toHaveProperty('expiresAt');
  });
});

describe('a table made before the job indexes', () => {
  const oldEnv = testEnv();
  const table = oldEnv.config.DYNAMODB_TABLE_NAME;
  let client: DynamoDBClient;

  beforeAll(async () => {
    client = resources.dynamo.client;
    await createSchemaOneTable(client, table);
  });
  afterAll(async () => {
    await client.send(new DeleteTableCommand({ TableName: table }));
  });

  it('is refused with a message that says what to run', async () => {
    expect(await readSchema(client, table)).toMatchObject({
      version: 1,
      missingIndexes: ['gsi2-user-jobs', 'gsi3-jobs-by-time', 'gsi4-jobs-by-op'],
    });
    const refused = requireSchema(resources.dynamo, table, { migrate: false, retentionDays: 30 });
    await expect(refused).rejects.toBeInstanceOf(SchemaTooOldError);
    await expect(refused).rejects.toThrow(
      new RegExp(`schema version 1; this release needs ${SCHEMA_VERSION}.*djq migrate`),
    );
  });

  it('is refused by the services at start when they may not change the table', async () => {
    const config = { ...oldEnv.config, CREATE_TABLES: false };
    await expect(openDynamo(config, silentLogger)).rejects.toBeInstanceOf(SchemaTooOldError);
    const board = startBoard({ config, redis: resources.redis, logger: silentLogger, host: '127.0.0.1', port: 0 });
    await expect(board).rejects.toThrow(/djq migrate/);
  });

  it('is migrated: its records get the keys a new write gives them', async () => {
    const { doc } = resources.dynamo;
    const jobId = randomUUID();
    const user = randomUUID();
    const at = '2026-01-02T03:04:05.000Z';
    // Records as the release before wrote them: no index keys.
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: { pk: keys.jobPk(jobId), sk: keys.acceptedSk, name: 'delete-user', data: { userId: user }, at },
      }),
    );
    const decidedAt = '2026-01-02T03:05:00.000Z';
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          pk: keys.jobPk(jobId),
          sk: keys.outcomeSk,
          gen: 1,
          outcome: 'dead-lettered',
          marks: [{ outcome: 'dead-lettered', at: decidedAt, by: 'w1', reason: 'x' }],
        },
      }),
    );
    // A batch of two users: the second gets a TOUCHES item in its own user's index.
    const batchId = randomUUID();
    const [first, second] = [randomUUID(), randomUUID()];
    await doc.send(
      new PutCommand({
        TableName: table,
        Item: {
          pk: keys.jobPk(batchId),
          sk: keys.acceptedSk,
          name: 'batch-create-users',
          data: { users: [newUser(first), newUser(second)] },
          at,
        },
      }),
    );
    const { standIn, updates } = standInFor(client);

    const report = await migrateTable({ client: standIn, doc }, table, { retentionDays: 7 });

    expect(updates).toEqual(['gsi2-user-jobs', 'gsi3-jobs-by-time', 'gsi4-jobs-by-op']);
    expect(report).toMatchObject({ from: 1, to: SCHEMA_VERSION, recordsBackfilled: 3 });
    const touches = await doc.send(
      new GetCommand({ TableName: table, Key: { pk: keys.jobPk(batchId), sk: keys.touchesSk(second) } }),
    );
    expect(touches.Item).toMatchObject({
      gsi2pk: `USERJOBS#${second}`,
      gsi2sk: `${at}#${batchId}`,
      // It expires with the history: retention days after the job was accepted.
      expiresAt: Date.parse(at) / 1000 + 7 * 86_400,
    });
    const read = async (sk: string) =>
      (await doc.send(new GetCommand({ TableName: table, Key: { pk: keys.jobPk(jobId), sk } }))).Item;
    expect(await read(keys.acceptedSk)).toMatchObject(acceptedIndexKeys(jobId, 'delete-user', { userId: user }, at));
    expect(await read(keys.acceptedSk)).toMatchObject({ gsi2pk: `USERJOBS#${user}` });
    expect(await read(keys.outcomeSk)).toMatchObject(
      outcomeIndexKeys(jobId, 'dead-lettered', decidedAt, 'delete-user'),
    );
    expect(await read(keys.outcomeSk)).toMatchObject({
      gsi4pk: `STATE#dead-lettered#OP#delete-user#${bucketOf(jobId)}`,
    });
    expect(await readSchemaVersion(client, table)).toBe(SCHEMA_VERSION);
    await expect(
      requireSchema({ client: standIn, doc }, table, { migrate: false, retentionDays: 7 }),
    ).resolves.toBeUndefined();
  });

  it('is not recorded as migrated when the endpoint cannot add the index (dynalite refuses)', async () => {
    const other = testEnv().config.DYNAMODB_TABLE_NAME;
    await client.send(
      new CreateTableCommand({
        TableName: other,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    await waitForActive(client, other, 30_000);
    // dynalite asks for provisioned throughput on an index even of an on-demand table; whatever the
    // endpoint says, the table must not be recorded as current.
    await expect(migrateTable(resources.dynamo, other, { timeoutMs: 5000, retentionDays: 30 })).rejects.toThrow();
    expect(await readSchemaVersion(client, other)).toBe(1);
    await client.send(new DeleteTableCommand({ TableName: other }));
  });
});

/**
 * dynalite validates UpdateTable's index creation but does not build the index: stand in for
 * DynamoDB's answer (the indexes appear) and keep the rest of the traffic real.
 */
function standInFor(client: DynamoDBClient): { standIn: DynamoDBClient; updates: string[] } {
  const updates: string[] = [];
  const created = new Set<string>();
  const standIn = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      if (command.constructor.name === 'UpdateTableCommand') {
        const [update] = command.input.GlobalSecondaryIndexUpdates as { Create: { IndexName: string } }[];
        updates.push(update?.Create.IndexName ?? '');
        created.add(update?.Create.IndexName ?? '');
        return {};
      }
      const out = (await client.send(command as never)) as { Table?: { GlobalSecondaryIndexes?: unknown[] } };
      if (command.constructor.name === 'DescribeTableCommand' && out.Table)
        out.Table.GlobalSecondaryIndexes = [
          ...(out.Table.GlobalSecondaryIndexes ?? []),
          ...[...created].map((IndexName) => ({ IndexName, IndexStatus: 'ACTIVE' })),
        ];
      return out;
    },
  } as unknown as DynamoDBClient;
  return { standIn, updates };
}

describe('a table of schema 2 (the job indexes, not the by-operation one)', () => {
  const table = testEnv().config.DYNAMODB_TABLE_NAME;
  let client: DynamoDBClient;

  beforeAll(async () => {
    client = resources.dynamo.client;
    // Schema 2's CreateTable: every index but gsi4, and its version recorded.
    const definition = tableDefinition(table);
    await client.send(
      new CreateTableCommand({
        ...definition,
        AttributeDefinitions: definition.AttributeDefinitions.filter((a) => !a.AttributeName.startsWith('gsi4')),
        GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes.filter((i) => i.IndexName !== JOBS_BY_OP_INDEX),
      }),
    );
    await waitForActive(client, table, 30_000);
    await writeSchemaVersion(client, table, 2);
  });
  afterAll(async () => {
    await client.send(new DeleteTableCommand({ TableName: table }));
  });

  it("is refused, then migrated: the by-operation index is added and its keys set from each job's acceptance", async () => {
    // Arrange: a decided job as schema 2 wrote it (its state index keys, none by operation), and a
    // decided job whose acceptance was never recorded (no operation to file it under).
    const { doc } = resources.dynamo;
    const [jobId, orphan] = [randomUUID(), randomUUID()];
    const at = '2026-02-03T04:05:06.000Z';
    const decidedAt = '2026-02-03T04:06:00.000Z';
    const {
      gsi4pk: _op,
      gsi4sk: _opSk,
      ...schema2Accepted
    } = acceptedIndexKeys(jobId, 'get-user', { userId: 'u' }, at);
    const put = (Item: Record<string, unknown>) => doc.send(new PutCommand({ TableName: table, Item }));
    await put({
      pk: keys.jobPk(jobId),
      sk: keys.acceptedSk,
      name: 'get-user',
      data: { userId: 'u' },
      at,
      ...schema2Accepted,
    });
    for (const id of [jobId, orphan]) {
      const { gsi3pk, gsi3sk } = outcomeIndexKeys(id, 'completed', decidedAt, undefined);
      await put({
        pk: keys.jobPk(id),
        sk: keys.outcomeSk,
        gen: 1,
        outcome: 'completed',
        marks: [{ outcome: 'completed', at: decidedAt, by: 'w1' }],
        gsi3pk,
        gsi3sk,
      });
    }
    await expect(requireSchema(resources.dynamo, table, { migrate: false, retentionDays: 30 })).rejects.toThrow(
      /schema version 2; this release needs 3/,
    );
    const { standIn, updates } = standInFor(client);

    // Act
    const report = await migrateTable({ client: standIn, doc }, table, { retentionDays: 30 });

    // Assert
    expect(updates).toEqual([JOBS_BY_OP_INDEX]);
    expect(report).toMatchObject({
      from: 2,
      to: SCHEMA_VERSION,
      indexesAdded: [JOBS_BY_OP_INDEX],
      recordsBackfilled: 3,
    });
    const read = async (id: string, sk: string) =>
      (await doc.send(new GetCommand({ TableName: table, Key: { pk: keys.jobPk(id), sk } }))).Item;
    const bucket = bucketOf(jobId);
    expect(await read(jobId, keys.acceptedSk)).toMatchObject({
      gsi4pk: `OP#get-user#${bucket}`,
      gsi4sk: `${at}#${jobId}`,
    });
    expect(await read(jobId, keys.outcomeSk)).toMatchObject({
      gsi4pk: `STATE#completed#OP#get-user#${bucket}`,
      gsi4sk: `${decidedAt}#${jobId}`,
    });
    expect(await read(orphan, keys.outcomeSk)).not.toHaveProperty('gsi4pk');
    expect(await readSchemaVersion(client, table)).toBe(SCHEMA_VERSION);
  });
});
