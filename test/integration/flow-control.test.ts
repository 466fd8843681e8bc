// One worker process's flow control on real Redis: which queue shard a throttled request counts
// for. The throttles come from fault injection in the SDK's retry loop, where real ones arrive.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { withCallTally } from '../../shared/dynamo/instrumentation.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { FlowControl, flowSettingsOf } from '../../worker/flow-control.js';
import { deleteKeys, openTestResources, testEnv } from '../helpers/stack.js';

const env = testEnv({ QUEUE_SHARDS: 2, FAULT_THROTTLE_RATE: 1, DYNAMODB_MAX_ATTEMPTS: 1 });
const resources = await openTestResources(env.config);
// Every request this client sends is throttled.
const throttled = createDynamoClients(env.config);

const opened: FlowControl[] = [];

afterAll(async () => {
  for (const flow of opened) flow.close();
  throttled.close();
  await deleteKeys(resources.redis, `${env.config.QUEUE_PREFIX}*`);
  await resources.cleanup();
});

let queues = 0;
/** One FlowControl per shard of a fresh queue, as a worker consuming both runs them; the second never changes. */
function shardFlows() {
  const queue = `flow-${queues++}`;
  const flows = [0, 1].map((shard) => {
    const keys = queueKeys({ ...env.config, QUEUE_NAME: queue }, shard);
    const flow = new FlowControl(
      true,
      resources.redis,
      keys,
      flowSettingsOf(env.config),
      pino({ level: 'silent' }),
      // The test reports by hand: a timer's report in flight would make report() a no-op.
      { clock: () => 5_000_000, reportEveryMs: 3_600_000 },
    );
    flow.start();
    opened.push(flow);
    return { keys, flow };
  });
  /** Reports what each shard tallied, then what its flow key holds for the (unchanging) second. */
  const throttledPerShard = async () => {
    await Promise.all(flows.map(({ flow }) => flow.report()));
    return Promise.all(flows.map(({ keys }) => resources.redis.hget(keys.flow, 'throttled')));
  };
  return { flows, throttledPerShard };
}

const getItem = () =>
  throttled.doc.send(new GetCommand({ TableName: env.config.DYNAMODB_TABLE_NAME, Key: { pk: 'p', sk: 's' } }));

describe('flow control with two queue shards in one process', () => {
  it("counts a job's throttled request for its own shard only", async () => {
    const { flows, throttledPerShard } = shardFlows();
    const tally = flows[0]!.flow.newTally();
    await expect(withCallTally(tally, getItem)).rejects.toThrow(/throttl|exceeds/i);
    // Shard 1 ran nothing: counting shard 0's throttle there too would cut an idle shard to the
    // floor (and count every throttle once per shard in the busy one's share).
    expect(await throttledPerShard()).toEqual(['1', '0']);
  });

  it('counts a throttled request outside any job (a history write, a sweep) for every shard', async () => {
    const { throttledPerShard } = shardFlows();
    await expect(getItem()).rejects.toThrow(/throttl|exceeds/i);
    expect(await throttledPerShard()).toEqual(['1', '1']);
  });
});
