// One worker process's flow control on real Redis: which queue shard a throttled request counts
// for. The throttles come from fault injection in the SDK's retry loop, where real ones arrive.
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { withCallTally } from '../../shared/dynamo/instrumentation.js';
import { FleetRate, readFleetFlow } from '../../shared/flow/fleet-rate.js';
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

describe('flow control turned off', () => {
  it('lifts a limit set after it started: a rolling deploy that turns flow control off ends unlimited', async () => {
    const keys = queueKeys({ ...env.config, QUEUE_NAME: `flow-${queues++}` });
    const settings = flowSettingsOf(env.config);
    const second = { now: 7_000_000 };
    const off = new FlowControl(false, resources.redis, keys, settings, pino({ level: 'silent' }), {
      clock: () => second.now,
      reportEveryMs: 3_600_000,
    });
    opened.push(off);
    off.start();
    // Its lift at start (and a script load it may need) is done before the old worker goes on.
    await resources.redis.ping();
    // A worker of the old release, flow control on, still running: DynamoDB throttles it.
    const old = new FleetRate(resources.redis, keys, settings, () => second.now);
    await old.report({ started: 40, requests: 80, throttled: 80, capacityUnits: 40 });
    second.now += 1;
    await old.report({ started: 0, requests: 0, throttled: 0, capacityUnits: 0 });
    expect((await readFleetFlow(resources.redis, keys)).rate).not.toBeNull();
    // The old worker is gone: no one with flow control on is left to raise or forget its limit.
    await off.report(); // what its timer does
    expect((await readFleetFlow(resources.redis, keys)).rate).toBeNull();
    expect(await resources.redis.hmget(keys.bullMeta, 'max', 'duration')).toEqual([null, null]);
  });
});

describe("an idle worker's reports", () => {
  /** A worker's flow control whose timer never fires: `tick()` is the timer's round, by hand. */
  function counted(initial?: number) {
    const keys = queueKeys({ ...env.config, QUEUE_NAME: `flow-${queues++}` });
    const reports = { count: 0 };
    const settings = { ...flowSettingsOf(env.config), ...(initial ? { initial } : {}) };
    // The clock is read once per report that reaches the fleet's script.
    const clock = () => {
      reports.count += 1;
      return 9_000_000;
    };
    const flow = new FlowControl(true, resources.redis, keys, settings, pino({ level: 'silent' }), {
      clock,
      reportEveryMs: 3_600_000,
    });
    opened.push(flow);
    return { flow, reports };
  }

  it('are left out while it has nothing to tell and no limit is in force', async () => {
    const { flow, reports } = counted();
    await flow.tick(); // the first: the fleet sees every worker once
    expect(reports.count).toBe(1);
    await flow.tick();
    await flow.tick();
    expect(reports.count).toBe(1);
    flow.noteStarted();
    await flow.tick();
    expect(reports.count).toBe(2);
    await flow.tick();
    expect(reports.count).toBe(2);
  });

  it('go on every round while a limit is in force (they tell the fleet whether it holds jobs back)', async () => {
    const { flow, reports } = counted(50);
    await flow.tick();
    expect(flow.rate).toBe(50);
    await flow.tick();
    await flow.tick();
    expect(reports.count).toBe(3);
  });
});
