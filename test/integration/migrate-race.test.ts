// `djq migrate` while workers and operators write: the backfill scans a decided job, then a redrive
// or a purge changes it before the backfill sets its index keys. Keys computed from the stale read
// would file a running (redriven) job, or a purged one, as dead-lettered in the console's search.
// Forced by the backfill's own DynamoDB client: the change is made just before its write is sent.
import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { keys, writeSchemaVersion } from '../../shared/dynamo/table.js';
import { migrateTable } from '../../shared/store/migrate.js';
import { testEnv, useTestResources } from '../helpers/stack.js';

const env = testEnv();
const resources = useTestResources(env);

describe('a migration racing the writers', () => {
  it('leaves a job redriven or purged after the scan filed as it is now, not as the scan read it', async () => {
    // Arrange: two dead-lettered jobs on a table recorded as schema 2.
    const { stores, dynamo } = resources();
    const table = env.config.DYNAMODB_TABLE_NAME;
    const [redriven, purged] = [randomUUID(), randomUUID()];
    await stores.jobs.accept([redriven, purged].map((id) => ({ id, name: 'get-user', data: { userId: id } })));
    for (const id of [redriven, purged])
      await stores.jobs.decide(id, 'dead-lettered', 'worker', { op: 'get-user', reason: 'boom' });
    await writeSchemaVersion(dynamo.client, table, 2);
    // The backfill's client: the operator's change lands between the scan and the job's write.
    const changes = new Map<string, () => Promise<unknown>>([
      [keys.jobPk(redriven), () => stores.jobs.reopen(redriven, 'operator', Date.now())],
      [keys.jobPk(purged), () => stores.jobs.purge(purged, 'operator')],
    ]);
    // Its prototype is the real client (the SDK's paginator checks the class); only send is ours.
    const racing = Object.create(dynamo.doc) as DynamoDBDocumentClient;
    racing.send = (async (command: { constructor: { name: string }; input: { Key?: { pk: string; sk: string } } }) => {
      const { Key } = command.input;
      const change = Key?.sk === keys.outcomeSk ? changes.get(Key.pk) : undefined;
      if (command.constructor.name === 'UpdateCommand' && change) {
        changes.delete(Key?.pk ?? '');
        expect(await change()).toBe(true);
      }
      return dynamo.doc.send(command as never);
    }) as DynamoDBDocumentClient['send'];

    // Act
    await migrateTable({ client: dynamo.client, doc: racing }, table, { retentionDays: 30 });

    // Assert: both changes happened mid-backfill; the open one has no state keys, the purged is filed purged.
    expect(changes.size).toBe(0);
    const outcomeItem = async (id: string) =>
      (await dynamo.doc.send(new GetCommand({ TableName: table, Key: { pk: keys.jobPk(id), sk: keys.outcomeSk } })))
        .Item;
    const open = await outcomeItem(redriven);
    expect(open).not.toHaveProperty('outcome');
    expect(open).not.toHaveProperty('gsi3pk');
    expect(open).not.toHaveProperty('gsi4pk');
    const gone = await outcomeItem(purged);
    expect(gone).toMatchObject({ outcome: 'purged' });
    expect(String(gone?.gsi3pk)).toMatch(/purged/);
    expect(String(gone?.gsi4pk)).toMatch(/purged/);
  });
});
