// An in-process pipeline for integration tests: a real BullMQ worker (our worker service) on real
// Redis and dynalite, a queue to enqueue into, and readers for the final state.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createDynamoClients, withoutFaults } from '../../shared/dynamo/client.js';
import { ensureTable } from '../../shared/dynamo/table.js';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import type { Config } from '../../shared/runtime/config.js';
import { connectRedis, type RedisConnection } from '../../shared/runtime/redis.js';
import { createDynamoStores } from '../../shared/store/index.js';
import type { JobOutcome, Stores } from '../../shared/store/types.js';
import { openJobSystem, openShardedSystem } from '../../shared/wiring.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService, type WorkerService } from '../../worker/worker-service.js';
import { openTestResources, type TestEnv, type TestResources } from './stack.js';

export const silentLogger = pino({ level: 'silent' });

export interface TestWorker {
  service: WorkerService;
  stores: Stores;
  /** Closes the worker (at most once: later calls share the first) and its clients; whether it drained in time. */
  stop(): Promise<boolean>;
}

/**
 * A worker with its own DynamoDB client built from `config` (so FAULT_* apply to it only) and its
 * own Redis connection unless given one (a TLS test's); `stop` closes both.
 */
export function startTestWorker(
  config: Config,
  options: { wrapStores?: (stores: Stores) => Stores; redis?: RedisConnection } = {},
): TestWorker {
  const { wrapStores } = options;
  const redis = options.redis ?? new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const dynamo = createDynamoClients(config);
  const base = createDynamoStores(dynamo, config);
  const stores = wrapStores ? wrapStores(base) : base;
  const service = startWorkerService({
    config,
    stores,
    redis,
    logger: silentLogger,
    metrics: new WorkerMetrics(false),
  });
  let stopping: Promise<boolean> | undefined;
  return {
    service,
    stores,
    stop: () => {
      stopping ??= (async () => {
        const drained = await service.close(10_000);
        redis.disconnect();
        dynamo.close();
        return drained;
      })();
      return stopping;
    },
  };
}

/** The producer's side of the wiring, acting as 'test': enqueues through the job lifecycle. */
export function openProducerSide(config: Config, resources: Pick<TestResources, 'redis' | 'stores'>) {
  const system = openJobSystem({ ...resources, config, logger: silentLogger, actor: 'test' });
  const decided = new DecidedOutcomes(resources.stores.jobs);
  return {
    system,
    queues: system.queues,
    ledger: system.ledger,
    /** What DynamoDB decided for jobs (the one reader every count of finished jobs uses). */
    decided,
    /** The outcome one job stands at in DynamoDB now (undefined while undecided). */
    async outcomeOf(jobId: string): Promise<JobOutcome | undefined> {
      return (await decided.of([jobId])).get(jobId)?.outcome;
    },
    /** How many of the jobs the ledger holds are decided (completed, dead-lettered or purged). */
    async finishedCount(): Promise<number> {
      return (await decided.of((await system.ledger.readEnqueued()).keys())).size;
    },
    /** Enqueues like the producer does: ledger first, then the job under its idempotency key. */
    async enqueue(name: string, data: unknown, jobId: string = randomUUID()): Promise<string> {
      await system.lifecycle.enqueue([{ id: jobId, name, data }]);
      return jobId;
    },
    close: () => system.close(),
  };
}

/** Polls until `check` returns a truthy value, or fails with `what` after the timeout. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Until every job is decided dead-lettered in DynamoDB (as generation `gen`, if given) and its DLQ
 * entry is in Redis: a move decides first and adds the entry after, so a test that plans or reads
 * the DLQ must wait for both.
 */
export function waitForDeadLettered(
  stores: Stores,
  deadLetter: Queue,
  jobIds: readonly string[],
  gen?: number,
): Promise<true> {
  return waitFor(`${jobIds.length} job(s) dead-lettered, their DLQ entries added`, async () => {
    for (const jobId of jobIds) {
      const record = await stores.jobs.get(jobId);
      if (record?.outcome !== 'dead-lettered' || (gen !== undefined && record.gen !== gen)) return false;
      if (!(await deadLetter.getJob(jobId))) return false;
    }
    return true;
  });
}

/**
 * Prunes a finished job from Redis, as removeOnComplete does to old jobs. DynamoDB decides a job's
 * outcome before its worker acks it in BullMQ, and `remove` leaves a job that is still active
 * (locked), so this waits for BullMQ's own finished state first.
 */
export async function pruneFromRedis(queue: Queue, jobId: string): Promise<void> {
  await waitFor(`${jobId} finished in Redis`, async () => {
    const state = await queue.getJobState(jobId);
    return state === 'completed' || state === 'failed';
  });
  if ((await queue.remove(jobId)) !== 1) throw new Error(`BullMQ kept finished job ${jobId}`);
}

export const newUser = (overrides: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  name: 'Grace Hopper',
  email: 'grace@example.com',
  age: 45,
  department: 'Engineering',
  ...overrides,
});

/**
 * A test file's pipeline: its resources, the producer's side and one test worker, opened before the
 * file's tests (before its own beforeAll, which arranges their jobs) and closed after them.
 */
export function usePipeline(env: TestEnv) {
  let opened: { resources: TestResources; producer: ReturnType<typeof openProducerSide>; worker: TestWorker };
  beforeAll(async () => {
    const resources = await openTestResources(env.config);
    opened = { resources, producer: openProducerSide(env.config, resources), worker: startTestWorker(env.config) };
  });
  afterAll(async () => {
    await opened?.worker.stop();
    await opened?.producer.close();
    await opened?.resources.cleanup();
  });
  return {
    get resources() {
      return opened.resources;
    },
    get producer() {
      return opened.producer;
    },
    get worker() {
      return opened.worker;
    },
  };
}

/** The file's test resources and a job system over every shard, opened before its tests and closed after them. */
export function useShardedSystem(env: TestEnv) {
  let opened: { resources: TestResources; system: ReturnType<typeof openShardedSystem> };
  beforeAll(async () => {
    const resources = await openTestResources(env.config);
    const { redis, stores } = resources;
    const system = openShardedSystem({ config: env.config, redis, stores, logger: silentLogger, actor: 'test' });
    opened = { resources, system };
  });
  afterAll(async () => {
    await opened?.system.close();
    await opened?.resources.cleanup();
  });
  return {
    get resources() {
      return opened.resources;
    },
    get system() {
      return opened.system;
    },
  };
}

/**
 * The tests' own view of a stack, as djq opens it: Redis as the config names it (one server, a
 * cluster or sentinels), every shard, and DynamoDB without injected faults, its table ensured.
 */
export async function openStackView(config: Config) {
  const dynamo = createDynamoClients(withoutFaults(config));
  await ensureTable(dynamo.client, config.DYNAMODB_TABLE_NAME);
  const redis = connectRedis(config);
  const stores = createDynamoStores(dynamo, config);
  const system = openShardedSystem({ config, redis, stores, logger: silentLogger, actor: 'test' });
  return {
    redis,
    system,
    async close() {
      await system.close();
      redis.disconnect();
      dynamo.close();
    },
  };
}
