// The bench's DynamoDB counter: each call goes to the kind of item it touches, read or write, with
// the units the backend reported, the index write units DynamoDB would add, and refused conditions.
// The client answers from a stub below the counter, as dynalite would (ConsumedCapacity by size).
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoUnits } from '../../bench/dynamo-units.js';
import { keys } from '../../shared/dynamo/table.js';

const TABLE = 't';

/** A client whose every call returns `units` consumed, or throws `error`, without a network. */
function stubbedClient(answer: () => { units: number } | Error) {
  const client = new DynamoDBClient({ region: 'local', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  const units = new DynamoUnits().attach(client);
  client.middlewareStack.add(
    () => async () => {
      const a = answer();
      if (a instanceof Error) throw a;
      return {
        output: { $metadata: {}, ConsumedCapacity: { TableName: TABLE, CapacityUnits: a.units } },
        response: {},
      };
    },
    { step: 'build', priority: 'low', name: 'stubbedAnswer' },
  );
  return { doc: DynamoDBDocumentClient.from(client), units };
}

const conditionFailed = () => Object.assign(new Error('refused'), { name: 'ConditionalCheckFailedException' });

describe('DynamoUnits', () => {
  it('tallies the acceptance, the decision and a head read by kind, with their index write units', async () => {
    const { doc, units } = stubbedClient(() => ({ units: 1 }));

    await doc.send(
      new BatchWriteCommand({
        RequestItems: {
          [TABLE]: [
            {
              PutRequest: {
                Item: { pk: keys.jobPk('j1'), sk: keys.acceptedSk, gsi2pk: 'u', gsi2sk: 's', gsi3pk: 'b', gsi3sk: 's' },
              },
            },
            { PutRequest: { Item: { pk: keys.jobPk('j1'), sk: keys.touchesSk('u2'), gsi2pk: 'u2', gsi2sk: 's' } } },
          ],
        },
      }),
    );
    await doc.send(
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: keys.jobPk('j1'), sk: keys.outcomeSk },
        UpdateExpression: 'SET outcome = :o, gsi3pk = :spk, gsi3sk = :ssk',
        ExpressionAttributeValues: { ':o': 'completed', ':spk': 'x', ':ssk': 'y' },
      }),
    );
    await doc.send(new GetCommand({ TableName: TABLE, Key: { pk: keys.userPk('u'), sk: keys.stateSk } }));
    const perJob = units.perJob(1);

    expect(perJob.byKind.acceptance).toMatchObject({ writeRequests: 1, writeUnits: 1, indexWriteUnits: 3 });
    expect(perJob.byKind.decision).toMatchObject({ writeRequests: 1, writeUnits: 1, indexWriteUnits: 1 });
    expect(perJob.byKind.head).toMatchObject({ readRequests: 1, readUnits: 1, writeRequests: 0 });
    expect(perJob).toMatchObject({ requests: 3, readUnits: 1, writeUnits: 2, indexWriteUnits: 4 });
    expect(units.decisionsByJob.get('j1')).toEqual({ requests: 1, writeUnits: 1, indexWriteUnits: 1 });
  });

  it('counts a write refused by its condition, with no units (the backend reported none)', async () => {
    const { doc, units } = stubbedClient(conditionFailed);

    await expect(
      doc.send(
        new PutCommand({
          TableName: TABLE,
          Item: { pk: keys.userPk('u'), sk: keys.eventSk('j1') },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ).rejects.toThrow('refused');

    expect(units.perJob(1).byKind.event).toMatchObject({ writeRequests: 1, writeUnits: 0, failedConditions: 1 });
  });

  it("charges a head's department index entry by its size, and a tombstone its removal", async () => {
    const { doc, units } = stubbedClient(() => ({ units: 1 }));
    const head = { pk: keys.userPk('u'), sk: keys.stateSk, version: 2, deleted: false };

    await doc.send(new PutCommand({ TableName: TABLE, Item: { ...head, gsi1pk: 'DEPT#x', gsi1sk: 'USER#u' } }));
    await doc.send(new PutCommand({ TableName: TABLE, Item: { ...head, gsi1pk: 'DEPT#x', bio: 'x'.repeat(1500) } }));
    await doc.send(new PutCommand({ TableName: TABLE, Item: { ...head, deleted: true } }));

    expect(units.perJob(1).byKind.head).toMatchObject({ writeRequests: 3, indexWriteUnits: 1 + 2 + 1 });
  });

  it('divides by the jobs and starts again after reset', async () => {
    const { doc, units } = stubbedClient(() => ({ units: 2 }));
    const get = () => doc.send(new GetCommand({ TableName: TABLE, Key: { pk: keys.userPk('u'), sk: keys.stateSk } }));

    await get();
    units.reset();
    await get();
    await get();

    expect(units.perJob(4)).toMatchObject({ requests: 0.5, readUnits: 1 });
  });
});
