// The producer with a sharded queue (QUEUE_SHARDS=3) on real Redis: each job goes to the shard of
// its user, and a tick that fails on one shard after another shard took its part finishes only the
// missing part next tick (recovered from that shard's ledger), nothing doubled, nothing dropped.
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OperationGenerator } from '../../producer/generator.js';
import { Producer } from '../../producer/producer.js';
import { parseOperationMix } from '../../shared/domain/operations.js';
import { routingUser } from '../../shared/domain/payload.js';
import { allShardKeys } from '../../shared/lifecycle/keys.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { openShardedSystem, type ShardedJobSystem, shardFor } from '../../shared/wiring.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';

let redis: Redis;
let system: ShardedJobSystem;
const env = testEnv({ QUEUE_SHARDS: 3 });

function producer(perTick: number) {
  return new Producer({
    shards: system.shards.map((s) => s.lifecycle),
    shardOf: system.shardOf,
    generator: new OperationGenerator({
      mix: parseOperationMix('create=2,update=1,query=1'),
      batchSize: 3,
      invalidRate: 0,
    }),
    intervalMs: 1,
    perTick,
    maxOperations: perTick,
    logger: silentLogger,
  });
}

beforeEach(() => {
  redis = new Redis(env.config.REDIS_URL, { maxRetriesPerRequest: null });
  system = openShardedSystem({
    config: env.config,
    redis,
    stores: createMemoryStores(),
    logger: silentLogger,
    actor: 'test',
  });
});

afterEach(async () => {
  await system.close();
  for (const keys of allShardKeys(env.config)) await deleteKeys(redis, keys.everyKeyPattern);
  redis.disconnect();
});

async function jobsByShard() {
  return Promise.all(system.shards.map(async (s) => [...(await s.ledger.readEnqueued()).values()]));
}

describe('Producer with QUEUE_SHARDS=3', () => {
  it('routes each job to the shard of its user (else of its id), and only there', async () => {
    const p = producer(60);
    expect(await p.tick()).toBe(60);
    await p.stop(); // writes the last records' commit marks

    const byShard = await jobsByShard();
    expect(byShard.flat()).toHaveLength(60);
    byShard.forEach((jobs, shard) => {
      expect(jobs.length).toBeGreaterThan(0);
      for (const job of jobs) expect(shardFor(routingUser(job.name, job.data) ?? job.id, 3)).toBe(shard);
    });
    for (const [shard, jobs] of byShard.entries())
      for (const job of jobs) {
        expect(await system.shards[shard]?.queues.operations.getJob(job.id)).toBeTruthy();
        for (const other of system.shards.filter((_, i) => i !== shard))
          expect(await other.queues.operations.getJob(job.id)).toBeUndefined();
      }
  });

  it('a tick that fails on one shard after its ledger write finishes that part only, next tick', async () => {
    const failing = system.shards[1]?.lifecycle;
    if (!failing) throw new Error('no shard 1');
    let failures = 0;
    failing.probe = (step) => {
      // Shard 1 records its part, then "Redis goes away" before its addBulk, once.
      if (step === 'enqueue:recorded' && failures++ === 0) throw new Error('connection lost');
    };
    const p = producer(60);

    expect(await p.tick()).toBe(0);
    expect(failures).toBe(1);
    expect(await system.shards[1]?.ledger.uncommitted()).toBeTruthy();
    expect(await p.tick()).toBe(60);
    await p.stop(); // writes the last records' commit marks

    const byShard = await jobsByShard();
    expect(byShard.flat()).toHaveLength(60);
    for (const [shard, jobs] of byShard.entries()) {
      const { queues, ledger } = system.shards[shard] ?? {};
      for (const job of jobs) expect(await queues?.operations.getJob(job.id)).toBeTruthy();
      expect(await ledger?.uncommitted()).toBeUndefined();
      // Each shard wrote one ledger record: no part was enqueued twice.
      expect(await redis.xlen(system.shards[shard]?.keys.ledgerEnqueued ?? '')).toBe(1);
    }
  });
});
