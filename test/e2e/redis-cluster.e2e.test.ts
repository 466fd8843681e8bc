// A real Redis Cluster on loopback (3 masters, 3 replicas, started here): the producer and worker
// processes run the pipeline on it with the queue split into 3 shards, each on a hash tag of its
// own, then `djq check` and `djq stats` read every shard as one queue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisClusterServer, startRedisCluster } from '../../devtools/local-services.js';
import { keySlot } from '../../shared/lifecycle/key-slot.js';
import type { CheckReport } from '../../shared/operator/check.js';
import { djqJson } from '../helpers/djq.js';
import { openStackView, waitFor } from '../helpers/pipeline.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { testEnv } from '../helpers/stack.js';

const JOBS = 600;

let cluster: RedisClusterServer | undefined;
let view: Awaited<ReturnType<typeof openStackView>> | undefined;
const services: Service[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
}, 90_000);

afterAll(async () => {
  await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
  await view?.close();
  await cluster?.stop();
});

const djq = <T>(env: Record<string, string>, ...args: string[]) => djqJson<T>(env, args, services);

describe('Redis Cluster (3 masters + 3 replicas), QUEUE_SHARDS=3', () => {
  it('runs the pipeline across the shards: lost 0, duplicated 0, every shard used', {
    timeout: 180_000,
  }, async () => {
    const { env, config } = testEnv({
      REDIS_CLUSTER_NODES: cluster?.nodes ?? '',
      QUEUE_SHARDS: 3,
      MAX_OPERATIONS: JOBS,
      OPERATION_INTERVAL_MS: 10,
      OPERATIONS_PER_TICK: 10,
      INVALID_JOB_RATE: 0.02,
    });
    view = await openStackView(config);
    const shards = view.system.shards;

    // One worker takes every shard, the other only two of them.
    services.push(
      startService('worker/main.ts', { ...env, WORKER_ID: 'w-all' }),
      startService('worker/main.ts', { ...env, WORKER_ID: 'w-0-2', WORKER_SHARDS: '0,2' }),
    );
    const producer = startService('producer/main.ts', env);
    services.push(producer);
    const { code } = await producer.exited;
    expect(code, producer.output().slice(-2000)).toBe(0);

    const unfinished = async () => {
      let n = 0;
      for (const { queues } of shards) {
        const c = await queues.operations.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
        n += Object.values(c).reduce((a, b) => a + b, 0);
      }
      return n;
    };
    await waitFor('every job finished', async () => (await unfinished()) === 0, 120_000);

    // Each shard's keys share one slot, and each shard got its part of the jobs.
    const perShard = await Promise.all(shards.map(async (s) => (await s.ledger.readEnqueued()).size));
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(JOBS);
    for (const count of perShard) expect(count).toBeGreaterThan(JOBS / 10);
    for (const { keys } of shards) {
      expect(
        new Set([keys.ledgerOutcomes, keys.redriveIntents, `${keys.prefix}:${keys.operations}:wait`].map(keySlot)).size,
      ).toBe(1);
    }

    const check = await djq<CheckReport>(env, 'check');
    expect(check.data).toMatchObject({
      enqueued: JOBS,
      pending: 0,
      lost: 0,
      duplicated: 0,
      projectionMismatches: 0,
      deadLettersWithoutReason: 0,
    });
    expect(check.data.deadLettered).toBeGreaterThan(0); // the poison jobs (2%)
    expect(check.code).toBe(0);

    const stats = await djq<{ counts: Record<string, number>; deadLetter: number; shards: unknown[] }>(env, 'stats');
    expect(stats.data.shards).toHaveLength(3);
    expect(stats.data.deadLetter).toBe(check.data.deadLettered);

    // The DLQ console spans the shards: list them all, purge one from the shard that holds it.
    const list = await djq<{ entries: { jobId: string }[] }>(env, 'dlq', 'list');
    expect(list.data.entries).toHaveLength(check.data.deadLettered);
    const held = await Promise.all(
      list.data.entries.map(async (e) => {
        for (const [i, s] of shards.entries()) if (await s.queues.deadLetter.getJob(e.jobId)) return i;
        return -1;
      }),
    );
    expect(held).not.toContain(-1);
    const pick = held.indexOf(Math.max(...held));
    const victim = list.data.entries[pick]?.jobId ?? '';
    const purge = await djq<{ purged: string[] }>(env, 'dlq', 'purge', victim);
    expect(purge.data.purged).toEqual([victim]);
    expect(await shards[held[pick] ?? 0]?.queues.deadLetter.getJob(victim)).toBeUndefined();
    const after = await djq<CheckReport>(env, 'check');
    expect(after.data).toMatchObject({ purged: 1, lost: 0, duplicated: 0 });
  });

  it('wakes workers standing by through the cluster: one stands by per shard, an enqueue wakes it, lost 0', {
    timeout: 180_000,
  }, async () => {
    const { env } = testEnv({
      REDIS_CLUSTER_NODES: cluster?.nodes ?? '',
      QUEUE_SHARDS: 3,
      MAX_OPERATIONS: 50,
      OPERATION_INTERVAL_MS: 10,
      OPERATIONS_PER_TICK: 5,
      WORKER_STANDBY_AFTER_MS: 1000,
      LOG_LEVEL: 'info',
    });
    const workers = ['w-a', 'w-b'].map((id) => startService('worker/main.ts', { ...env, WORKER_ID: id }));
    services.push(...workers);
    const logs = () => workers.map((w) => w.output()).join('\n');
    // Each shard has one watcher (its sweep lease); the other worker stands by once idle.
    await waitFor(
      'a worker standing by on every shard',
      async () => (logs().match(/standing by: no job/g) ?? []).length >= 3,
      60_000,
    );

    for (const round of [1, 2]) {
      const producer = startService('producer/main.ts', env);
      services.push(producer);
      const { code } = await producer.exited;
      expect(code, producer.output().slice(-2000)).toBe(0);
      const check = await waitFor(
        `round ${round}: every job decided`,
        async () => {
          const c = await djq<CheckReport>(env, 'check');
          return c.data.pending === 0 && c;
        },
        120_000,
      );
      expect(check.data).toMatchObject({ enqueued: 50 * round, lost: 0, duplicated: 0 });
    }
    // Signalled through the cluster's pub/sub: the workers standing by fetched again.
    expect(logs()).toMatch(/fetching jobs again: new work was signalled/);
  });
});
