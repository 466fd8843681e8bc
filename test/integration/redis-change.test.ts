// A Redis that comes back as another server having lost writes it had acknowledged (what a failover
// to a lagging replica, or a restart with AOF everysec, leaves): the shard's watcher sees the new
// run_id and re-enqueues from DynamoDB the accepted jobs the server dropped, with no operator. A
// redis-server of this test's own, snapshotted (SAVE) between two enqueues, killed and started
// again from the snapshot; a real worker, real BullMQ and dynalite.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../../devtools/local-services.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { redisServerState } from '../../shared/lifecycle/redis-server.js';
import { type RedisChangeDeps, RedisChangeWatch } from '../../worker/redis-change.js';
import { openProducerSide, silentLogger, startTestWorker, type TestWorker, waitFor } from '../helpers/pipeline.js';
import { deleteKeys, openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const NO_AOF = ['--appendonly', 'no'];
const open = <T>(value: T | undefined): T => {
  if (value === undefined) throw new Error('not opened');
  return value;
};
let server: RedisServer | undefined;
let resources: TestResources | undefined;
let worker: TestWorker | undefined;

// The server goes whatever happens before: a worker that cannot close in time must not leave it running.
afterAll(async () => {
  try {
    await worker?.stop();
    await resources?.cleanup();
  } finally {
    await server?.stop('SIGKILL');
    if (server) rmSync(server.dir, { recursive: true, force: true });
  }
}, 60_000);

/** A watch with no worker around it: always the watcher, its timer an hour away, rounds driven by hand. */
function watchAlone(
  redis: TestResources['redis'],
  keys: ReturnType<typeof queueKeys>,
  steps: Pick<RedisChangeDeps, 'recover' | 'redisLost'>,
): RedisChangeWatch {
  return new RedisChangeWatch({
    redis,
    keys,
    watching: () => true,
    logger: silentLogger,
    intervalMs: 3_600_000,
    ...steps,
  });
}

describe('a Redis that comes back as another server', () => {
  it('has the accepted jobs it dropped re-enqueued by the watcher, and every job completes', {
    timeout: 120_000,
  }, async () => {
    server = await startRedisServer({ extraArgs: NO_AOF });
    const { config } = testEnv({ REDIS_URL: server.url, DLQ_SWEEP_INTERVAL_MS: 200 });
    resources = await openTestResources(config);
    const producer = openProducerSide(config, resources);
    const { keys, queues } = producer.system;
    worker = startTestWorker(config);
    const watch = worker.service.shards[0]?.redisChange;
    if (!watch) throw new Error('the worker watches no Redis change (RECOVER_ON_REDIS_CHANGE)');

    // The first look records the server: its data is intact, nothing to recover.
    const first = await waitFor('the server recorded', async () => {
      const state = await redisServerState(open(resources).redis, keys);
      return state.reconciled === state.runId && state;
    });
    expect(watch.recoveries).toBe(0);

    // Jobs wait (the queue is paused); a snapshot holds the first five, not the next five.
    await queues.operations.pause();
    const kept = await Promise.all(
      Array.from({ length: 5 }, () => producer.enqueue('get-user', { userId: randomUUID() })),
    );
    await resources.redis.save();
    const dropped = await Promise.all(
      Array.from({ length: 5 }, () => producer.enqueue('get-user', { userId: randomUUID() })),
    );
    await server.stop('SIGKILL');
    server = await startRedisServer({ port: server.port, dir: server.dir, extraArgs: NO_AOF });
    expect(await queues.operations.getJob(dropped[0] ?? '')).toBeUndefined();
    expect(await queues.operations.getJob(kept[0] ?? '')).toBeDefined();

    await queues.operations.resume();
    await waitFor(
      'every job completed',
      async () => {
        const decided = await producer.decided.of([...kept, ...dropped]);
        return [...decided.values()].filter((d) => d.outcome === 'completed').length === 10;
      },
      60_000,
    );
    // The recovery records the new server once it has finished, which may be after the jobs did.
    const after = await waitFor('the new server recorded', async () => {
      const state = await redisServerState(open(resources).redis, keys);
      return state.reconciled === state.runId && state;
    });
    expect(after.runId).not.toBe(first.runId);
    expect(watch.recoveries).toBe(1);
    await producer.close();
  });

  it('of another run is left alone: no recovery, nothing recorded, and no new try before a minute', async () => {
    const { config } = testEnv({ DLQ_SWEEP_INTERVAL_MS: 3_600_000 });
    const own = await openTestResources(config);
    const other = startTestWorker(config);
    try {
      const shard = other.service.shards[0];
      const watch = shard?.redisChange;
      if (!shard || !watch) throw new Error('the worker watches no Redis change');
      await waitFor('the worker to hold the sweep lease', async () => shard.sweep.holds);
      // Recorded on another server, and an epoch the table does not know: another run's Redis.
      await own.redis.set(shard.system.keys.serverReconciled, 'a-server-before');
      await own.redis.set(shard.system.keys.epoch, 'another-run');
      await watch.round();
      expect(watch.recoveries).toBe(1);
      expect((await redisServerState(own.redis, shard.system.keys)).reconciled).toBe('a-server-before');
      expect(await own.redis.get(shard.system.keys.epoch)).toBe('another-run');
      // The next rounds wait (RETRY_AFTER_MS): a refused or unfinished recovery is not run every round.
      await watch.round();
      expect(watch.recoveries).toBe(1);
    } finally {
      await other.stop();
      await own.cleanup();
    }
  });

  // A worker shutting down while its watch recovers (a whole table to read): closing the watch
  // does not wait for the recovery (that would spend the whole SHUTDOWN_TIMEOUT_MS, leaving
  // in-flight jobs no time to finish), and the server is not recorded when the recovery ends after.
  it('closing the watch does not wait for the recovery running, and records nothing for it', async () => {
    const { config } = testEnv({ DLQ_SWEEP_INTERVAL_MS: 3_600_000 });
    const own = await openTestResources(config);
    try {
      const keys = queueKeys(config, 0);
      await own.redis.set(keys.serverReconciled, 'a-server-before');
      let finish: (finished: boolean) => void = () => undefined;
      const recovery = new Promise<boolean>((resolve) => {
        finish = resolve;
      });
      const watch = watchAlone(own.redis, keys, { recover: () => recovery, redisLost: async () => false });
      const round = watch.round();
      await waitFor('the recovery to begin', async () => watch.recoveries === 1);
      await watch.close();
      await round;
      finish(true);
      await recovery;
      expect((await redisServerState(own.redis, keys)).reconciled).toBe('a-server-before');
    } finally {
      await own.cleanup();
    }
  });

  // Redis loses its data (the same server: a FLUSHALL, a purge of its keys) between the end of a
  // recovery and the record: recording the server then would make every later look see nothing to
  // do, with the epoch saying Redis lost its data and the jobs in no queue.
  it('does not record a server that lost its data after the recovery, and recovers it again', async () => {
    const { config } = testEnv({ DLQ_SWEEP_INTERVAL_MS: 3_600_000 });
    const own = await openTestResources(config);
    try {
      const keys = queueKeys(config, 0);
      await own.redis.set(keys.serverReconciled, 'a-server-before');
      await own.redis.set(keys.epoch, 'the-epoch');
      const watch = watchAlone(own.redis, keys, {
        recover: async () => {
          // The recovery gave the epoch back; then everything is gone, the record with it.
          await deleteKeys(own.redis, keys.everyKeyPattern);
          return true;
        },
        redisLost: async () => (await own.redis.exists(keys.epoch)) === 0,
      });
      await watch.round();
      expect(watch.recoveries).toBe(1);
      expect((await redisServerState(own.redis, keys)).reconciled).toBeNull();
      await watch.round();
      expect(watch.recoveries).toBe(2);
      await watch.close();
    } finally {
      await own.cleanup();
    }
  });
});
