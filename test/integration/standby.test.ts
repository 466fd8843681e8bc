// Workers standing by, through real BullMQ workers, Redis pub/sub and dynalite: a worker that does
// not hold its shard's sweep lease stops fetching when idle, and what wakes it. Sweep rounds and
// standby checks are driven by hand (their timers wait an hour), judged at a time past the wait.
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { wakeConnectionName } from '../../worker/wake-listener.js';
import { openProducerSide, startTestWorker, type TestWorker, waitFor } from '../helpers/pipeline.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const HOUR = 3_600_000;
const pastTheWait = () => Date.now() + 2 * HOUR;
const opened: { resources: TestResources; workers: TestWorker[] }[] = [];

afterAll(async () => {
  for (const { resources, workers } of opened) {
    for (const worker of workers) await worker.stop();
    await resources.cleanup();
  }
});

/** A queue of its own, a watcher `a` (it holds the sweep lease) and `b`, standing by. */
async function fleetWithOneStandingBy() {
  const env = testEnv({ DLQ_SWEEP_INTERVAL_MS: HOUR, WORKER_STANDBY_AFTER_MS: HOUR });
  const resources = await openTestResources(env.config);
  const own = { resources, workers: [] as TestWorker[] };
  opened.push(own);
  const start = (workerId: string) => {
    const worker = startTestWorker({ ...env.config, WORKER_ID: workerId });
    own.workers.push(worker);
    const shard = worker.service.shards[0];
    if (!shard) throw new Error('a worker without a shard');
    return { stop: () => worker.stop(), ...shard };
  };
  // Ids of their own: a test finds b's subscriber connection by its name.
  const bId = `other-${crypto.randomUUID()}`;
  const a = start(`watcher-${crypto.randomUUID()}`);
  expect(await a.sweep.round()).toBe(true);
  const b = start(bId);
  expect(await b.sweep.round()).toBe(false);
  // Only once subscribed does a worker stand by: a signal must be able to reach it.
  await waitFor('the new-work subscription', async () => {
    await b.standby.check(pastTheWait());
    return b.worker.isPaused();
  });
  await a.standby.check(pastTheWait());
  expect(a.worker.isPaused()).toBe(false);
  const producer = openProducerSide(env.config, resources);
  return { env, resources, a, b, bId, producer };
}

/** The CLIENT LIST id of the subscriber connection named `name` that is subscribed, if any. */
async function subscriberId(redis: Redis, name: string): Promise<string | undefined> {
  const clients = String(await redis.client('LIST')).split('\n');
  const line = clients.find((l) => l.includes(` name=${name} `) && / sub=[1-9]/.test(l));
  return line ? /^id=(\d+) /.exec(line)?.[1] : undefined;
}

async function allCompleted(producer: ReturnType<typeof openProducerSide>, ids: readonly string[]) {
  await waitFor(`${ids.length} jobs completed`, async () => {
    const decided = await producer.decided.of(ids);
    return [...decided.values()].filter((d) => d.outcome === 'completed').length === ids.length;
  });
}

const getUsers = (producer: ReturnType<typeof openProducerSide>, n: number) =>
  Promise.all(Array.from({ length: n }, () => producer.enqueue('get-user', { userId: crypto.randomUUID() })));

describe('a worker standing by', () => {
  it('is woken by an enqueue, and every job completes', async () => {
    const { a, b, producer } = await fleetWithOneStandingBy();
    expect(b.standby.standingBy).toBe(true);
    const ids = await getUsers(producer, 20);
    await waitFor('the signal to wake the standing-by worker', async () => !b.worker.isPaused());
    expect(b.standby.wakes).toBe(1);
    expect(a.standby.standbys).toBe(0);
    await allCompleted(producer, ids);
    await producer.close();
  });

  it('resumed before its last blocking fetch returned, it alone runs what comes next', async () => {
    const { a, b, producer } = await fleetWithOneStandingBy();
    // The watcher goes: only b is left to run jobs. Its fetch loop was paused while BullMQ's
    // blocking fetch (up to drainDelay, 5 s) may still be out; it is woken at once.
    await a.stop();
    await b.standby.wake();
    expect(b.worker.isPaused()).toBe(false);
    const ids = await getUsers(producer, 10);
    await allCompleted(producer, ids);
    await producer.close();
  });

  it('is woken by the watcher when the watcher starts a job no one signalled', async () => {
    const { b, producer } = await fleetWithOneStandingBy();
    // As a retry from Bull Board would: straight into BullMQ, no lifecycle, no signal of its own.
    await producer.queues.operations.add('get-user', { userId: crypto.randomUUID() }, { jobId: crypto.randomUUID() });
    await waitFor('the watcher to wake the standing-by worker', async () => !b.worker.isPaused());
    expect(b.standby.wakes).toBe(1);
    await producer.close();
  });

  it('is woken as the watcher stops: it fetches before it takes the lease', async () => {
    const { a, b, producer } = await fleetWithOneStandingBy();
    // b's sweep rounds wait an hour: only the watcher's signal as it stops can wake b now.
    await a.stop();
    await waitFor('the stopping watcher to wake the standing-by worker', async () => !b.worker.isPaused());
    expect(b.standby.wakes).toBe(1);
    expect(b.sweep.holds).toBe(false);
    const direct = crypto.randomUUID();
    await producer.queues.operations.add('get-user', { userId: crypto.randomUUID() }, { jobId: direct });
    await waitFor(
      'the unsignalled job to complete',
      async () => (await producer.queues.operations.getJobState(direct)) === 'completed',
    );
    await producer.close();
  });

  it('fetches again once it takes the lease', async () => {
    const { env, resources, a, b, producer } = await fleetWithOneStandingBy();
    await a.stop();
    expect(await resources.redis.get(queueKeys(env.config).sweepLease)).toBeNull();
    expect(await b.sweep.round()).toBe(true);
    await b.standby.check(pastTheWait());
    expect(b.worker.isPaused()).toBe(false);
    expect(b.standby.standingBy).toBe(false);
    await producer.close();
  });

  it('fetches again when its subscription drops, however soon it is back, and is woken through it after', async () => {
    const { resources, b, bId, producer } = await fleetWithOneStandingBy();
    const name = wakeConnectionName(bId);
    const killed = await waitFor('the subscriber connection', () => subscriberId(resources.redis, name));
    await resources.redis.client('KILL', 'ID', killed);
    // ioredis is back within a fraction of a second, between two standby checks, and a signal sent
    // meanwhile was lost: the loss itself wakes the worker.
    await waitFor('the subscription back', async () => {
      const id = await subscriberId(resources.redis, name);
      return id !== undefined && id !== killed;
    });
    expect(b.standby.wakes).toBe(1);
    expect(b.worker.isPaused()).toBe(false);
    // Subscribed again, it stands by again, and a signal wakes it through the new connection.
    await waitFor('standing by again', async () => {
      await b.standby.check(pastTheWait());
      return b.worker.isPaused();
    });
    const ids = await getUsers(producer, 3);
    await waitFor('the signal to wake it', async () => !b.worker.isPaused());
    expect(b.standby.wakes).toBe(2);
    await allCompleted(producer, ids);
    await producer.close();
  });

  it('closes within its deadline while standing by', async () => {
    const { b, producer } = await fleetWithOneStandingBy();
    expect(b.worker.isPaused()).toBe(true);
    expect(await b.stop()).toBe(true);
    await producer.close();
  });
});
