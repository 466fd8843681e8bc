// The producer against real Redis: ticks go to the ledger and the queue under their job ids, a
// failed tick is retried with the same ids, and a producer killed between its ledger write and
// its addBulk is made whole on restart.

import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OperationGenerator } from '../../producer/generator.js';
import { Producer } from '../../producer/producer.js';
import { parseOperationMix } from '../../shared/domain/operations.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import type { Ledger } from '../../shared/lifecycle/ledger.js';
import type { Queues } from '../../shared/lifecycle/queues.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { type JobSystem, openJobSystem } from '../../shared/wiring.js';
import { crashAt } from '../helpers/interleave.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';

let redis: Redis;
let system: JobSystem;
let queues: Queues;
let ledger: Ledger;
const env = testEnv();

function producer(overrides: { perTick?: number; maxOperations?: number } = {}) {
  return new Producer({
    lifecycle: system.lifecycle,
    generator: new OperationGenerator({ mix: parseOperationMix('create=1,get=1'), batchSize: 2, invalidRate: 0 }),
    intervalMs: 1,
    perTick: overrides.perTick ?? 3,
    ...(overrides.maxOperations ? { maxOperations: overrides.maxOperations } : {}),
    logger: silentLogger,
  });
}

beforeEach(() => {
  redis = new Redis(env.config.REDIS_URL, { maxRetriesPerRequest: null });
  system = openJobSystem({
    config: env.config,
    redis,
    stores: createMemoryStores(),
    logger: silentLogger,
    actor: 'test',
  });
  queues = system.queues;
  ledger = system.ledger;
});

afterEach(async () => {
  await system.close();
  await deleteKeys(redis, queueKeys(env.config).everyKeyPattern);
  redis.disconnect();
});

describe('Producer', () => {
  it('enqueues MAX_OPERATIONS jobs, each in the ledger and in Redis under its id', async () => {
    const p = producer({ perTick: 4, maxOperations: 10 });
    await p.run();
    expect(p.produced).toBe(10);
    const recorded = await ledger.readEnqueued();
    expect(recorded.size).toBe(10);
    for (const id of recorded.keys()) expect(await queues.operations.getJob(id)).toBeTruthy();
    expect(await ledger.uncommitted()).toBeUndefined();
    expect(await producer().recover()).toBe(0);
  });

  it('re-adds what a producer killed before its addBulk recorded but never enqueued', async () => {
    // The first half of a tick, as a producer killed mid-tick leaves it.
    const jobs = [
      { id: crypto.randomUUID(), name: 'get-user', data: { userId: crypto.randomUUID() } },
      { id: crypto.randomUUID(), name: 'get-user', data: { userId: crypto.randomUUID() } },
    ];
    await ledger.recordEnqueued(jobs);
    await queues.operations.add(jobs[0]!.name, jobs[0]!.data, { jobId: jobs[0]!.id });
    expect(await producer().recover()).toBe(1);
    for (const job of jobs) expect(await queues.operations.getJob(job.id)).toBeTruthy();
    expect(await ledger.uncommitted()).toBeUndefined();
  });

  it('keeps a failed tick and retries it with the same job ids', async () => {
    const p = producer({ perTick: 2 });
    const addBulk = queues.operations.addBulk.bind(queues.operations);
    queues.operations.addBulk = async () => {
      throw new Error('Connection is closed.');
    };
    expect(await p.tick()).toBe(0);
    queues.operations.addBulk = addBulk;
    expect(await p.tick()).toBe(2);
    const recorded = await ledger.readEnqueued();
    expect(recorded.size).toBe(2); // the same two ids, recorded twice
    expect(await queues.operations.count()).toBe(2);
  });

  it('a stop after a tick that failed past its ledger write still gets its jobs into Redis', async () => {
    const p = producer({ perTick: 3, maxOperations: 3 });
    // The tick's ledger record is written, then its addBulk fails (a Redis blip, here a crash point).
    crashAt(system.lifecycle, 'enqueue:recorded');
    expect(await p.tick()).toBe(0);
    expect(await queues.operations.count()).toBe(0);
    await p.stop(); // nothing else will tick: the stop finishes the recorded jobs
    const recorded = [...(await ledger.readEnqueued()).keys()];
    expect(recorded).toHaveLength(3);
    for (const id of recorded) expect(await queues.operations.getJob(id)).toBeDefined();
  });
});
