// One run's queue on the bench's own Redis (the run's own prefix, from runConfig) and the worker
// processes that drain it: started together and waited on until registered, and everything the run
// opened stopped, closed and its keys dropped in one place, whatever happened.
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { operationJobOptions } from '../shared/lifecycle/queues.js';
import type { Config } from '../shared/runtime/config.js';
import { spawnWorker, type WorkerChild } from './children.js';
import { type BenchServices, dropPrefix, type OutcomeWatch, watchTable } from './support.js';
import { benchGenerator, fillQueue, generate } from './workload.js';

export interface RunQueue {
  redis: Redis;
  queue: Queue;
  /** Stops or closes something of the run's when it ends (last registered first), before the queue closes. */
  defer(cleanup: () => unknown): void;
}

/** Runs `body` with a queue of the run's own, then stops what it deferred, closes the queue and drops its keys. */
export async function withRunQueue<T>(
  services: BenchServices,
  config: Config,
  body: (run: RunQueue) => Promise<T>,
): Promise<T> {
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  const cleanups: (() => unknown)[] = [];
  try {
    return await body({ redis, queue, defer: (cleanup) => cleanups.push(cleanup) });
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await queue.close();
    await dropPrefix(services.control, config.QUEUE_PREFIX);
    redis.disconnect();
  }
}

/**
 * Pauses the run's queue and fills it with `jobs` jobs of the default mix on the seeded users, so
 * the workers begin together on a full queue; the watch on their outcomes closes when the run ends.
 */
export async function fillPaused(
  run: RunQueue,
  config: Config,
  seeded: readonly string[],
  jobs: number,
): Promise<OutcomeWatch> {
  await run.queue.pause();
  const work = generate(benchGenerator(config, seeded), jobs);
  await fillQueue(run.queue, work, operationJobOptions(config));
  const watch = watchTable(config).add(work.map((job) => job.id));
  run.defer(() => watch.close());
  return watch;
}

/** Starts one worker process for the run (stopped when it ends) and waits until it has registered. */
export async function startWorker(run: RunQueue, spawn: () => WorkerChild, onWait: () => void): Promise<WorkerChild> {
  const child = spawn();
  run.defer(() => child.stop());
  await waitForWorkers(run.queue, [child], onWait);
  return child;
}

/**
 * Starts a fleet of `count` worker processes (worker/main.ts, each with a WORKER_ID of its own) for
 * the run, stopped when it ends, and waits until all have registered.
 */
export async function startWorkers(
  run: RunQueue,
  count: number,
  env: Record<string, string>,
  onWait: () => void,
): Promise<WorkerChild[]> {
  const children: WorkerChild[] = [];
  run.defer(() => Promise.all(children.map((c) => c.stop())));
  for (let i = 0; i < count; i++) children.push(spawnWorker({ ...env, WORKER_ID: `${env.WORKER_ID}-${i}` }));
  await waitForWorkers(run.queue, children, onWait);
  return children;
}

/** Waits until `children` have all registered with `queue`; throws when one exits first or after 60 s. */
export async function waitForWorkers(
  queue: Queue,
  children: readonly WorkerChild[],
  onWait: () => void,
): Promise<void> {
  for (let waited = 0; (await queue.getWorkersCount()) < children.length; waited += 100) {
    onWait();
    const dead = children.find((c) => c.process.exitCode !== null);
    if (dead) throw new Error(`a worker exited at start: ${dead.stderr()}`);
    if (waited > 60_000) throw new Error(`${children.length} worker(s) did not start within 60 s`);
    await sleep(100);
  }
}
