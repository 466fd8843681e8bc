// The capacity-limited DynamoDB fixture against real dynalite and the real AWS SDK: over budget the
// SDK sees DynamoDB's own throttling error and treats it as DynamoDB's; within budget nothing is
// throttled; the budget is one for every client, with separate read and write buckets. The refill
// clock is injected and only moves when a test moves it, so "the next request is throttled" is sure.
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  type ReturnConsumedCapacity,
} from '@aws-sdk/client-dynamodb';
import { isThrottlingError } from '@smithy/core/retry';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type CapacityBudget, type CapacityLimit, startCapacityLimit } from '../../devtools/capacity-limit.js';
import { ensureTable } from '../../shared/dynamo/table.js';
import { classifyError } from '../../shared/runtime/errors.js';
import { freePort } from '../helpers/services.js';

const TABLE = `djq-test-capacity-${randomUUID().slice(0, 8)}`;
const THROTTLED_BODY =
  '{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."}';

const clients: DynamoDBClient[] = [];
const limits: CapacityLimit[] = [];
let direct: DynamoDBClient;

function client(endpoint: string, maxAttempts = 1): DynamoDBClient {
  const c = new DynamoDBClient({ endpoint, region: 'us-east-1', maxAttempts, retryMode: 'standard' });
  clients.push(c);
  return c;
}

/** A proxy on a clock that stands still until the test moves it (`clock.ms += 1000`). */
async function limit(budget: CapacityBudget, target = inject('dynamoEndpoint')) {
  const clock = { ms: 0 };
  const started = await startCapacityLimit(target, budget, { now: () => clock.ms });
  limits.push(started);
  return { limit: started, clock };
}

/** One unit either way: a small item, a strongly consistent read. */
const put = (c: DynamoDBClient, id = randomUUID(), returnCapacity?: ReturnConsumedCapacity) =>
  c.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: { pk: { S: `CAP#${id}` }, sk: { S: 'ITEM' }, n: { N: '1' } },
      ...(returnCapacity ? { ReturnConsumedCapacity: returnCapacity } : {}),
    }),
  );
const get = (c: DynamoDBClient, id = 'nothing') =>
  c.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: `CAP#${id}` }, sk: { S: 'ITEM' } }, ConsistentRead: true }),
  );

async function rejection(
  work: Promise<unknown>,
): Promise<Error & { $metadata: { httpStatusCode?: number; attempts?: number } }> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected the call to fail');
  return error as Error & { $metadata: { httpStatusCode?: number; attempts?: number } };
}

beforeAll(async () => {
  direct = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1' });
  await ensureTable(direct, TABLE);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(limits.splice(0).map((l) => l.close()));
});

afterAll(async () => {
  await direct.send(new DeleteTableCommand({ TableName: TABLE }));
  direct.destroy();
});

describe('capacity limit', () => {
  it('over budget, the SDK gets ProvisionedThroughputExceededException and classifies it as throttling', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1, burstSeconds: 1 });
    const c = client(proxy.endpoint);

    await put(c);
    const error = await rejection(put(c));

    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(isThrottlingError(error as Parameters<typeof isThrottlingError>[0])).toBe(true);
    expect(classifyError(error)).toMatchObject({ kind: 'throttled', retryable: true });
    expect(proxy.stats()).toMatchObject({ requests: 2, throttled: 1, throttledWrites: 1, writeUnits: 1 });
  });

  it('the SDK retries a throttled call as it would on AWS (maxAttempts 3: three attempts, all throttled)', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1, burstSeconds: 1 });
    await put(client(proxy.endpoint));

    const error = await rejection(put(client(proxy.endpoint, 3)));

    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(error.$metadata.attempts).toBe(3);
    expect(proxy.stats()).toMatchObject({ requests: 4, throttled: 3 });
  });

  it('the throttling answer is DynamoDB’s: status, headers and body', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1 });
    await put(client(proxy.endpoint));

    const answer = await fetch(proxy.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.PutItem' },
      body: JSON.stringify({ TableName: TABLE, Item: { pk: { S: 'CAP#raw' }, sk: { S: 'ITEM' } } }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await answer.text();

    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(answer.headers.get('x-amzn-requestid')).toMatch(/^[A-Z0-9]{52}$/);
    expect(answer.headers.get('x-amz-crc32')).toBe(String(crc32(body)));
    expect(body).toBe(THROTTLED_BODY);
  });

  it('within budget nothing is throttled: one write and one read a second, for ten seconds', async () => {
    const { limit: proxy, clock } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1, burstSeconds: 1 });
    const c = client(proxy.endpoint);

    for (let second = 0; second < 10; second++) {
      const id = randomUUID();
      await put(c, id);
      await get(c, id);
      clock.ms += 1000;
    }

    expect(proxy.stats()).toMatchObject({ requests: 20, throttled: 0, readUnits: 10, writeUnits: 10 });
  });

  it('unused capacity is kept for burstSeconds, no longer', async () => {
    const { limit: proxy, clock } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1, burstSeconds: 3 });
    const c = client(proxy.endpoint);
    clock.ms += 60_000;

    for (let i = 0; i < 3; i++) await put(c);
    const error = await rejection(put(c));

    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(proxy.stats()).toMatchObject({ requests: 4, throttled: 1, writeUnits: 3 });
  });

  it('a client that did not ask for ConsumedCapacity does not get it, and the units are still debited', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 10, writeUnitsPerSecond: 10 });
    const c = client(proxy.endpoint);

    const unasked = await put(c);
    const asked = await put(c, randomUUID(), 'TOTAL');
    const refused = await put(c, randomUUID(), 'NONE');

    expect(unasked.ConsumedCapacity).toBeUndefined();
    expect(refused.ConsumedCapacity).toBeUndefined();
    expect(asked.ConsumedCapacity).toEqual({ TableName: TABLE, CapacityUnits: 1 });
    expect(proxy.stats().writeUnits).toBe(3);
  });

  it('a rewritten answer carries its own Content-Length and x-amz-crc32', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 10, writeUnitsPerSecond: 10 });
    const id = randomUUID();
    await put(client(proxy.endpoint), id);
    const signed = {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': 'DynamoDB_20120810.GetItem',
      // dynalite wants the shape of a signature, not a valid one.
      Authorization:
        'AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      'X-Amz-Date': '20250101T000000Z',
    };

    const answer = await fetch(proxy.endpoint, {
      method: 'POST',
      headers: signed,
      body: JSON.stringify({
        TableName: TABLE,
        Key: { pk: { S: `CAP#${id}` }, sk: { S: 'ITEM' } },
        ConsistentRead: true,
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await answer.text();

    expect(answer.status).toBe(200);
    expect(JSON.parse(body)).toEqual({ Item: { pk: { S: `CAP#${id}` }, sk: { S: 'ITEM' }, n: { N: '1' } } });
    expect(answer.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(answer.headers.get('x-amz-crc32')).toBe(String(crc32(body)));
    expect(proxy.stats().readUnits).toBe(1);
  });

  it('requests in flight together cannot overshoot the budget: 30 at once on 10 units, 10 admitted', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 10, writeUnitsPerSecond: 10, burstSeconds: 1 });
    const c = client(proxy.endpoint);

    const results = await Promise.allSettled(Array.from({ length: 30 }, () => put(c)));

    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    expect(proxy.stats()).toMatchObject({ requests: 30, throttled: 20, writeUnits: 10 });
  });

  it('a failed conditional write costs a unit, as on DynamoDB; the client still gets its own error', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 10, writeUnitsPerSecond: 10 });
    const c = client(proxy.endpoint);
    const id = randomUUID();
    await put(c, id);

    const error = await rejection(
      c.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { pk: { S: `CAP#${id}` }, sk: { S: 'ITEM' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );

    expect(error.name).toBe('ConditionalCheckFailedException');
    expect(proxy.stats()).toMatchObject({ requests: 2, throttled: 0, writeUnits: 2 });
  });

  it('two separate clients share one budget', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1, burstSeconds: 1 });
    const first = client(proxy.endpoint);
    const second = client(proxy.endpoint);

    await put(first);
    const error = await rejection(put(second));

    expect(error.name).toBe('ProvisionedThroughputExceededException');
    expect(proxy.stats()).toMatchObject({ requests: 2, throttled: 1, writeUnits: 1 });
  });

  it('reads and writes have separate buckets', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1, burstSeconds: 1 });
    const c = client(proxy.endpoint);

    await put(c);
    const writeThrottled = await rejection(put(c));
    await get(c);
    const readThrottled = await rejection(get(c));

    expect(writeThrottled.name).toBe('ProvisionedThroughputExceededException');
    expect(readThrottled.name).toBe('ProvisionedThroughputExceededException');
    expect(proxy.stats()).toMatchObject({
      requests: 4,
      throttled: 2,
      throttledReads: 1,
      throttledWrites: 1,
      readUnits: 1,
      writeUnits: 1,
    });
  });

  it('table operations pass unmetered, even with both buckets empty', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1, burstSeconds: 1 });
    const c = client(proxy.endpoint);
    await put(c);
    await get(c);

    const described = await c.send(new DescribeTableCommand({ TableName: TABLE }));
    const listed = await c.send(new ListTablesCommand({}));

    expect(described.Table?.TableName).toBe(TABLE);
    expect(listed.TableNames).toContain(TABLE);
    expect(proxy.stats()).toMatchObject({ requests: 2, throttled: 0 });
  });

  it('a target that does not answer is DynamoDB’s InternalServerError (500), and costs no capacity', async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const { limit: proxy } = await limit({ readUnitsPerSecond: 1, writeUnitsPerSecond: 1, burstSeconds: 1 }, nobody);
    const c = client(proxy.endpoint);

    const first = await rejection(put(c));
    const second = await rejection(put(c));

    for (const error of [first, second]) {
      expect(error.name).toBe('InternalServerError');
      expect(error.$metadata.httpStatusCode).toBe(500);
    }
    expect(proxy.stats()).toMatchObject({ requests: 2, throttled: 0, writeUnits: 0 });
  });

  it('close() ends with a client’s keep-alive socket still open', async () => {
    const { limit: proxy } = await limit({ readUnitsPerSecond: 10, writeUnitsPerSecond: 10 });
    await put(client(proxy.endpoint));

    await proxy.close();

    const error = await rejection(put(client(proxy.endpoint)));
    expect(error.name).not.toBe('ProvisionedThroughputExceededException');
  });

  it('refuses a budget that is not positive and a target that is not plain HTTP', async () => {
    await expect(
      startCapacityLimit(inject('dynamoEndpoint'), { readUnitsPerSecond: 0, writeUnitsPerSecond: 1 }),
    ).rejects.toThrow(/readUnitsPerSecond must be > 0/);
    await expect(
      startCapacityLimit('https://dynamodb.us-east-1.amazonaws.com', { readUnitsPerSecond: 1, writeUnitsPerSecond: 1 }),
    ).rejects.toThrow(/plain HTTP/);
  });
});
