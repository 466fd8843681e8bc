// A job's time waiting on DynamoDB (the tally's durationMs, reported with each completed attempt):
// calls in a row add up, calls at once count once, so it never exceeds the time that passed.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { emptyTally, withCallTally } from '../../shared/dynamo/instrumentation.js';
import { openTestResources, testEnv } from '../helpers/stack.js';

// Every request waits 40 ms (fault injection, inside the SDK's call), so the figures are far above noise.
const env = testEnv({ FAULT_LATENCY_MS: 40 });
const resources = await openTestResources(env.config);
const slow = createDynamoClients(env.config);

afterAll(async () => {
  slow.close();
  await resources.cleanup();
});

const getItem = () =>
  slow.doc.send(new GetCommand({ TableName: env.config.DYNAMODB_TABLE_NAME, Key: { pk: 'p', sk: 's' } }));

/** Runs `fn` in a fresh tally; returns the tally and the time that passed. */
async function timed(fn: () => Promise<unknown>) {
  const tally = emptyTally();
  const started = performance.now();
  await withCallTally(tally, fn);
  return { tally, elapsedMs: performance.now() - started };
}

describe("a job's time in DynamoDB", () => {
  it('adds up calls made one after another', async () => {
    const { tally, elapsedMs } = await timed(async () => {
      await getItem();
      await getItem();
    });
    expect(tally.calls).toBe(2);
    expect(tally.durationMs).toBeGreaterThanOrEqual(80);
    expect(tally.durationMs).toBeLessThanOrEqual(elapsedMs);
    expect(tally.outstanding).toBe(0);
  });

  it('counts calls made at once once: the wall time with any call outstanding', async () => {
    const { tally, elapsedMs } = await timed(() => Promise.all([getItem(), getItem(), getItem(), getItem()]));
    expect(tally.calls).toBe(4);
    expect(tally.durationMs).toBeGreaterThanOrEqual(40);
    // Summed per call it would be four times 40 ms; counted once it cannot exceed what passed.
    expect(tally.durationMs).toBeLessThanOrEqual(elapsedMs);
    expect(tally.outstanding).toBe(0);
  });
});
