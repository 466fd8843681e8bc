// What an operator sees and does after Redis loses the queue's data (every key of this test's
// isolated prefix deleted: what FLUSHALL leaves, without touching the shared Redis's other keys):
// `djq stats` and a worker's /readyz say so (and say when Redis belongs to another run), `djq
// recover` re-enqueues the accepted undecided jobs and a running worker finishes them, and a worker
// started with RECOVER_ON_START=true does the same on its own.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useShardedSystem, waitFor } from '../helpers/pipeline.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { freePort } from '../helpers/services.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';

const env = testEnv({ LOG_LEVEL: 'info' });
const sharded = useShardedSystem(env);

const shard = () => {
  const first = sharded.system.shards[0];
  if (!first) throw new Error('no shard');
  return first;
};

async function djq(...args: string[]) {
  const cli = startService('cli/djq.ts', env.env, args);
  const { code } = await cli.exited;
  const output = cli.output();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(output) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { code, output, json };
}

/** Accepted get-user jobs (DynamoDB records them before Redis holds them), no worker running. */
async function enqueueGets(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await shard().lifecycle.enqueue(ids.map((id) => ({ id, name: 'get-user', data: { userId: id } })));
  return ids;
}

const wipeRedis = () => deleteKeys(sharded.resources.redis, shard().keys.everyKeyPattern);

async function allCompleted(ids: readonly string[]): Promise<boolean> {
  for (const id of ids) if ((await sharded.resources.stores.jobs.get(id))?.outcome !== 'completed') return false;
  return true;
}

async function startWorker(extra: Record<string, string> = {}): Promise<{ service: Service; port: number }> {
  const port = await freePort();
  const service = startService('worker/main.ts', { ...env.env, METRICS_PORT: String(port), ...extra });
  await waitFor(
    'the worker to listen',
    async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok,
  );
  return { service, port };
}

async function readyz(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; checks: Record<string, string> } };
}

describe('after Redis loses the queue', () => {
  it('djq stats and /readyz say so; djq recover re-enqueues the undecided jobs and a worker finishes them', async () => {
    expect((await shard().checkEpoch()).state).toBe('ok');
    const ids = await enqueueGets(3);
    await wipeRedis();

    const stats = await djq('stats', '--json');
    expect(stats.code).toBe(0);
    expect(stats.json?.epoch).toEqual(['redis-lost']);
    expect((await djq('stats')).output).toMatch(/Redis lost its data.*djq recover/);

    // The operator's way: the worker's own recovery (RECOVER_ON_REDIS_CHANGE, below) is off.
    const { service, port } = await startWorker({ RECOVER_ON_REDIS_CHANGE: 'false' });
    try {
      const lost = await readyz(port);
      expect(lost.status).toBe(503);
      expect(lost.body.checks.epoch).toMatch(/Redis lost its data/);

      const recovered = await djq('recover', '--json');
      expect(recovered.code).toBe(0);
      expect(recovered.json).toMatchObject({ reEnqueued: 3, epochsBefore: ['redis-lost'] });
      expect((await readyz(port)).status).toBe(200);
      await waitFor('the recovered jobs to complete', () => allCompleted(ids));
    } finally {
      await stopService(service);
    }
    expect((await djq('stats', '--json')).json?.epoch).toEqual(['ok']);
    // A second recovery finds nothing to do.
    expect((await djq('recover', '--json')).json).toMatchObject({ reEnqueued: 0 });
  });

  it("a running worker's watcher recovers it by itself (RECOVER_ON_REDIS_CHANGE, the default)", async () => {
    expect((await shard().checkEpoch()).state).toBe('ok');
    const { service, port } = await startWorker({ DLQ_SWEEP_INTERVAL_MS: '200' });
    try {
      await waitFor('the worker ready', async () => (await readyz(port)).status === 200);
      await shard().queues.operations.pause();
      const ids = await enqueueGets(3);
      await wipeRedis();
      await waitFor('the recovered jobs to complete', () => allCompleted(ids));
      expect((await readyz(port)).status).toBe(200);
      expect(service.output()).toMatch(/Redis lost its data: recovering/);
    } finally {
      await stopService(service);
    }
    expect((await djq('stats', '--json')).json?.epoch).toEqual(['ok']);
  });

  it('djq stats and /readyz say when Redis belongs to another run', async () => {
    const key = shard().keys.epoch;
    const ours = await sharded.resources.redis.get(key);
    await sharded.resources.redis.set(key, 'another-run');
    const { service, port } = await startWorker();
    try {
      expect((await djq('stats', '--json')).json?.epoch).toEqual(['mismatch']);
      const mixed = await readyz(port);
      expect(mixed.status).toBe(503);
      expect(mixed.body.checks.epoch).toMatch(/belong to different runs/);
    } finally {
      await stopService(service);
      if (ours) await sharded.resources.redis.set(key, ours);
    }
  });

  it('a worker started with RECOVER_ON_START=true re-enqueues them and runs them', async () => {
    const ids = await enqueueGets(2);
    await wipeRedis();
    expect((await shard().checkEpoch()).state).toBe('redis-lost');
    const { service } = await startWorker({ RECOVER_ON_START: 'true' });
    try {
      await waitFor('the recovered jobs to complete', () => allCompleted(ids));
      expect(service.output()).toMatch(/recovered Redis from DynamoDB: 2 job\(s\) re-enqueued/);
    } finally {
      await stopService(service);
    }
    expect((await shard().checkEpoch()).state).toBe('ok');
  });
  // djq recover refuses a Redis of another run (refuseMixedRuns); RECOVER_ON_START did not: it
  // re-enqueued this table's jobs into the other run's Redis and overwrote its epoch, so nothing
  // said the two runs were mixed any more.
  it('a worker started with RECOVER_ON_START=true leaves a Redis of another run alone', async () => {
    const [id] = await enqueueGets(1);
    await wipeRedis();
    await sharded.resources.redis.set(shard().keys.epoch, 'another-run');
    const { service } = await startWorker({ RECOVER_ON_START: 'true' });
    try {
      await waitFor('the worker to be ready', async () => /ready: /.test(service.output()));
      expect(service.output()).toMatch(/not recovering/);
    } finally {
      await stopService(service);
    }
    expect(await shard().queues.operations.getJob(String(id))).toBeUndefined();
    expect((await shard().checkEpoch()).state).toBe('mismatch');
    await wipeRedis();
  });
});
