// Per-test isolation: every test gets its own queue prefix and table, so files run in parallel
// beside a Redis that other things use. No FLUSHALL, ever: cleanup deletes only our own keys.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDynamoClients, type DynamoClients, withoutFaults } from '../../shared/dynamo/client.js';
import { ensureTable } from '../../shared/dynamo/table.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { type Config, loadConfig } from '../../shared/runtime/config.js';
import { createDynamoStores } from '../../shared/store/index.js';
import type { Stores } from '../../shared/store/types.js';

export interface TestEnv {
  env: Record<string, string>;
  config: Config;
}

/** Environment for one isolated test stack (also what child processes get). */
export function testEnv(overrides: Record<string, string | number | boolean> = {}): TestEnv {
  const id = randomUUID().slice(0, 8);
  const env: Record<string, string> = {
    REDIS_URL: inject('redisUrl'),
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    QUEUE_PREFIX: `djqtest-${id}`,
    QUEUE_NAME: 'ops',
    DYNAMODB_TABLE_NAME: `djq-test-${id}`,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    METRICS_PORT: '0',
    JOB_BACKOFF_MS: '20',
    DLQ_SWEEP_INTERVAL_MS: '500',
    HISTORY_FLUSH_MS: '100',
  };
  for (const [k, v] of Object.entries(overrides)) env[k] = String(v);
  return { env, config: loadConfig(env) };
}

export interface TestResources {
  redis: Redis;
  dynamo: DynamoClients;
  stores: Stores;
  cleanup(): Promise<void>;
}

/** Connects to the test's Redis and creates its table. cleanup() deletes the test's Redis keys. */
/** The file's test resources, opened before its tests and cleaned up after them: `resources()` in a test. */
export function useTestResources(env: TestEnv): () => TestResources {
  let opened: TestResources | undefined;
  beforeAll(async () => {
    opened = await openTestResources(env.config);
  });
  afterAll(async () => {
    await opened?.cleanup();
  });
  return () => {
    if (!opened) throw new Error('useTestResources: the resources open in beforeAll');
    return opened;
  };
}

export async function openTestResources(config: Config): Promise<TestResources> {
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  // The test's own view of the tables is fault-free, whatever FAULT_* the workers under test get.
  const dynamo = createDynamoClients(withoutFaults(config));
  await ensureTable(dynamo.client, config.DYNAMODB_TABLE_NAME);
  return {
    redis,
    dynamo,
    stores: createDynamoStores(dynamo, config),
    cleanup: async () => {
      await deleteKeys(redis, queueKeys(config).everyKeyPattern);
      redis.disconnect();
      dynamo.close();
    },
  };
}

export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}
