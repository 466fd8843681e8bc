// The job history store on dynalite: one item per job per flush, entries read back in time order,
// and items of the shape written before 0.3 (one entry per item) still read.
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCapacityLimit } from '../../devtools/capacity-limit.js';
import { createDynamoClients, withoutFaults } from '../../shared/dynamo/client.js';
import { keys } from '../../shared/dynamo/table.js';
import type { HistoryEntry } from '../../shared/lifecycle/history.js';
import { HistoryWriteError } from '../../shared/store/errors.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const env = testEnv();
let resources: TestResources;

beforeAll(async () => {
  resources = await openTestResources(env.config);
});

afterAll(async () => {
  await resources?.cleanup();
});

const at = (ms: number) => new Date(Date.UTC(2026, 11, 5, 1, 0, 0, ms)).toISOString();

async function itemsOf(jobId: string) {
  const out = await resources.dynamo.doc.send(
    new QueryCommand({
      TableName: env.config.DYNAMODB_TABLE_NAME,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.jobPk(jobId) },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}

describe('DynamoDB job history', () => {
  it("writes one item per job per flush and reads a job's entries back in time order", async () => {
    const { history } = resources.stores;
    const flush: HistoryEntry[] = [
      { jobId: 'a', at: at(1), type: 'attempt-started', attempt: 1, workerId: 'w1' },
      { jobId: 'b', at: at(2), type: 'attempt-started', attempt: 1, workerId: 'w1' },
      { jobId: 'a', at: at(5), type: 'completed', attempt: 1, durationMs: 4, capacityUnits: 2, result: 'ok' },
    ];
    await history.write(flush);
    expect(await itemsOf('a')).toHaveLength(1);
    expect(await itemsOf('b')).toHaveLength(1);
    // Another process's flush whose entries fall between the first item's (a stalled delivery's
    // successor, say): the job's life still reads in time order.
    await history.write([{ jobId: 'a', at: at(3), type: 'put-back', attempt: 1, delayMs: 10, reason: 'contended' }]);
    expect((await history.list('a')).map((e) => [e.type, e.at])).toEqual([
      ['attempt-started', at(1)],
      ['put-back', at(3)],
      ['completed', at(5)],
    ]);
    expect(await history.list('b')).toEqual([flush[1]]);
  });

  it("splits a job's entries of one flush over items below DynamoDB's 400 KB item limit", async () => {
    const { history } = resources.stores;
    // A job put back again and again while the table throttles (and the recorder, backing off,
    // holds its entries): thousands of entries of one job in one flush, over 400 KB together.
    const reason = `throttled: ${'x'.repeat(200)}`;
    const flush: HistoryEntry[] = Array.from({ length: 3000 }, (_, i) => ({
      jobId: 'busy',
      at: at(i),
      type: 'put-back',
      attempt: 1,
      delayMs: 250,
      cause: 'throttled',
      reason,
    }));
    await history.write(flush);
    const items = await itemsOf('busy');
    expect(items.length).toBeGreaterThan(1);
    expect((await history.list('busy')).map((e) => e.at)).toEqual(flush.map((e) => e.at));
  });

  it('says which entries a flush throttled half-way did not write, so only those are written again', async () => {
    // 30 write units a second on a clock that stands still: the first batch of 25 items (a unit
    // each) leaves 5, the second is admitted on them, the third is throttled.
    const clock = { ms: 0 };
    const limit = await startCapacityLimit(
      inject('dynamoEndpoint'),
      { readUnitsPerSecond: 100, writeUnitsPerSecond: 30 },
      { now: () => clock.ms },
    );
    const dynamo = createDynamoClients({
      ...withoutFaults(env.config),
      AWS_ENDPOINT_URL_DYNAMODB: limit.endpoint,
      DYNAMODB_MAX_ATTEMPTS: 1,
    });
    try {
      const { history } = createDynamoStores(dynamo, env.config);
      const flush: HistoryEntry[] = Array.from({ length: 60 }, (_, i) => ({
        jobId: `half-${i}`,
        at: at(i),
        type: 'attempt-started',
        attempt: 1,
      }));
      const error = await history.write(flush).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HistoryWriteError);
      expect((error as HistoryWriteError).unwritten).toEqual(flush.slice(50));
      expect(await history.list('half-0')).toHaveLength(1);
      expect(await history.list('half-59')).toHaveLength(0);
    } finally {
      dynamo.close();
      await limit.close();
    }
  });

  it('reads items written one entry per item (before 0.3) beside new ones', async () => {
    const { history } = resources.stores;
    await resources.dynamo.doc.send(
      new PutCommand({
        TableName: env.config.DYNAMODB_TABLE_NAME,
        Item: {
          pk: keys.jobPk('old'),
          sk: `${keys.historyPrefix}${at(1)}#000001abcd`,
          jobId: 'old',
          at: at(1),
          type: 'enqueued',
        },
      }),
    );
    await history.write([{ jobId: 'old', at: at(2), type: 'attempt-started', attempt: 1 }]);
    expect((await history.list('old')).map((e) => e.type)).toEqual(['enqueued', 'attempt-started']);
  });
});
