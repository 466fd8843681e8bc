// djq's bulk redrive when Redis stops answering mid-action (a stopped redis-server, a stalled link):
// every command has a deadline, so the run ends with an error instead of waiting for good (Ctrl-C
// only stops it between jobs). Redis is put behind a proxy the test stalls at the runner's step
// after its first job; the command deadline is shortened for the test, not waited out.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StallingProxy } from '../../chaos/stalling-proxy.js';
import { CliContext } from '../../cli/context.js';
import { usePipeline, waitForDeadLettered } from '../helpers/pipeline.js';
import { testEnv } from '../helpers/stack.js';

const env = testEnv({ JOB_ATTEMPTS: 2 });
const pipeline = usePipeline(env);
const owner = randomUUID();
let poison: string[];
let proxy: StallingProxy;
let ctx: CliContext;

beforeAll(async () => {
  const { resources, producer } = pipeline;
  poison = [];
  for (let i = 0; i < 2; i++) poison.push(await producer.enqueue('create-user', { user: { id: owner, name: i } }));
  // The plan reads the DLQ entries, which a move adds after its decision.
  await waitForDeadLettered(resources.stores, producer.queues.deadLetter, poison);
  proxy = await StallingProxy.start(env.env.REDIS_URL ?? '');
  const { host } = new URL(proxy.endpoint);
  ctx = new CliContext({ ...env.env, REDIS_URL: `redis://${host}`, REDIS_COMMAND_TIMEOUT_MS: '500' }, { aws: false });
});

afterAll(async () => {
  await ctx?.close();
  await proxy?.close();
});

describe('a bulk redrive from djq whose Redis stops answering', () => {
  it('ends with an error at the command deadline, its second job left alone', async () => {
    const operator = await ctx.operator();
    const plan = await operator.planDlq('redrive', { user: owner });
    expect(plan.count).toBe(2);
    const run = operator.runDlq(plan, { by: 'test', ratePerSecond: 1000, onProgress: () => proxy.stall() });
    await expect(run).rejects.toThrow(/timed out/i);
    // The first job was redriven (its next generation opened), the second never touched.
    const [first, second] = plan.jobIds as [string, string];
    const { jobs } = pipeline.resources.stores;
    expect((await jobs.get(first))?.gen).toBe(2);
    expect(await jobs.get(second)).toMatchObject({ gen: 1, outcome: 'dead-lettered' });
  });
});
