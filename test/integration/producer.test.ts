// The producer against real Redis: ticks go to the ledger and the queue under their job ids, a
// failed tick is retried with the same ids, and a producer killed between its ledger write and
// its addBulk is made whole on restart.

import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OperationGenerator } from '../../producer/generator.js';
import { Producer } from '../../producer/producer.js';
import { parseOperationMix } from '../../shared/domain/operations.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import type { Ledger } from '../../shared/lifecycle/ledger.js';
import type { Queues } from '../../shared/lifecycle/queues.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import type { Stores } from '../../shared/store/types.js';
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

/** A producer process's job system on the test's Redis, acting as `actor` (a restart opens another). */
const openAs = (actor: string, stores: Stores) =>
  openJobSystem({ config: env.config, redis, stores, logger: silentLogger, actor });

beforeEach(() => {
  redis = new Redis(env.config.REDIS_URL, { maxRetriesPerRequest: null });
  system = openAs('test', createMemoryStores());
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

  it("commits a tick's record with the next tick's record, and the last one when it stops", async () => {
    const p = producer({ perTick: 2, maxOperations: 6 });
    await p.tick();
    await p.tick();
    const [first, second] = (await redis.xrange(ledger.enqueuedKey, '-', '+')).map(([id]) => id);
    // The second record's MULTI carried the first one's commit mark; its own waits for the next.
    expect(await redis.get(ledger.committedKey)).toBe(first);
    expect((await ledger.uncommitted())?.recordId).toBe(second);
    await p.tick();
    await p.stop();
    expect(await ledger.uncommitted()).toBeUndefined();
  });

  it('a producer killed after its addBulk, before its next tick, re-adds nothing on restart', async () => {
    const p = producer({ perTick: 3 });
    expect(await p.tick()).toBe(3);
    // The process dies here: its record's commit mark was waiting for the next tick.
    const last = await ledger.uncommitted();
    expect(last?.jobs).toHaveLength(3);
    // One of its jobs already ran, was decided, and left Redis (retention).
    const [done, ...rest] = last?.jobs ?? [];
    if (!done) throw new Error('no job');
    await system.stores.jobs.decide(done.id, 'completed', 'worker-1', { op: undefined });
    await (await queues.operations.getJob(done.id))?.remove();

    const restarted = openAs('producer-2', system.stores);
    try {
      expect(await restarted.lifecycle.recover()).toBe(0);
      expect(await queues.operations.getJob(done.id)).toBeUndefined();
      for (const job of rest) expect(await queues.operations.getJob(job.id)).toBeTruthy();
      expect(await queues.operations.count()).toBe(2);
      expect(await ledger.uncommitted()).toBeUndefined();
    } finally {
      await restarted.close();
    }
  });

  it('a restart after a tick whose mark was still deferred leaves its jobs as they were accepted', async () => {
    const p = producer({ perTick: 3 });
    expect(await p.tick()).toBe(3);
    const jobs = (await ledger.uncommitted())?.jobs ?? [];
    expect(jobs).toHaveLength(3);
    const [done] = jobs;
    if (!done) throw new Error('no job');
    await system.stores.jobs.decide(done.id, 'completed', 'worker-1', { op: undefined });
    const acceptedAt = async () =>
      Promise.all(jobs.map(async (j) => (await system.stores.jobs.get(j.id))?.accepted?.at));
    const before = await acceptedAt();
    // The producer is killed (its last mark was deferred) and restarts a minute later.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 60_000);
    const restarted = openAs('producer-2', system.stores);
    try {
      expect(await restarted.lifecycle.recover()).toBe(0);
      // Every job was in Redis or decided: none re-accepted (its acceptance time and place in the
      // job indexes are the tick's, not the restart's, and a completed job is not accepted after it).
      expect(await acceptedAt()).toEqual(before);
    } finally {
      vi.useRealTimers();
      await restarted.close();
    }
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

  it('puts the ticks that came due while a slow acceptance was in flight into the next tick', async () => {
    const intervalMs = 20;
    const p = new Producer({
      lifecycle: system.lifecycle,
      generator: new OperationGenerator({ mix: parseOperationMix('create=1'), batchSize: 2, invalidRate: 0 }),
      intervalMs,
      perTick: 1,
      maxOperations: 8,
      logger: silentLogger,
    });
    const enqueue = system.lifecycle.enqueue.bind(system.lifecycle);
    const tickSizes: number[] = [];
    const start = performance.now();
    system.lifecycle.enqueue = async (jobs, onRecorded) => {
      tickSizes.push(jobs.length);
      // The first acceptance outlasts six intervals, as a slow DynamoDB's write would.
      while (tickSizes.length === 1 && performance.now() < start + 6 * intervalMs) await sleep(5);
      return enqueue(jobs, onRecorded);
    };
    await p.run();
    expect(tickSizes[0]).toBe(1);
    expect(tickSizes[1]).toBeGreaterThanOrEqual(5); // the ticks due meanwhile, in one
    expect(p.produced).toBe(8);
    expect(await queues.operations.count()).toBe(8);
  });
});
