// An in-process pipeline for integration tests: a real BullMQ worker (our worker service) on real
// Redis and dynalite, a queue to enqueue into, and readers for the final state.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { Ledger } from '../../shared/lifecycle/ledger.js';
import { openQueues, operationJobOptions } from '../../shared/lifecycle/queues.js';
import type { Config } from '../../shared/runtime/config.js';
import { createDynamoStores } from '../../shared/store/index.js';
import type { Stores } from '../../shared/store/types.js';
import { startWorkerService, type WorkerService } from '../../worker/worker-service.js';

export const silentLogger = pino({ level: 'silent' });

export interface TestWorker {
  service: WorkerService;
  stores: Stores;
  stop(): Promise<void>;
}

/** A worker with its own DynamoDB client built from `config` (so FAULT_* apply to it only). */
export function startTestWorker(config: Config, wrapStores?: (stores: Stores) => Stores): TestWorker {
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const dynamo = createDynamoClients(config);
  const base = createDynamoStores(dynamo, config);
  const stores = wrapStores ? wrapStores(base) : base;
  const service = startWorkerService({ config, stores, redis, logger: silentLogger });
  return {
    service,
    stores,
    stop: async () => {
      await service.close(10_000);
      redis.disconnect();
      dynamo.close();
    },
  };
}

export function openProducerSide(config: Config, redis: Redis) {
  const queues = openQueues(config, redis);
  const ledger = new Ledger(redis, config.QUEUE_PREFIX, config.QUEUE_NAME);
  const options = operationJobOptions(config);
  return {
    queues,
    ledger,
    /** Enqueues like the producer does: ledger first, then the job under its idempotency key. */
    async enqueue(name: string, data: unknown, jobId: string = randomUUID()): Promise<string> {
      await ledger.recordEnqueued([{ id: jobId, name, data }]);
      await queues.operations.add(name, data, { ...options, jobId });
      return jobId;
    },
    close: () => queues.close(),
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

export const newUser = (overrides: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  name: 'Grace Hopper',
  email: 'grace@example.com',
  age: 45,
  department: 'Engineering',
  ...overrides,
});
