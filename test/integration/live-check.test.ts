// `djq check` on a live stack: a job whose producer has written its ledger record but whose addBulk
// has not landed yet is work in progress (pending), not lost. The producer is paused between its
// two steps with a gate, and the checker runs in that window.
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger } from '../../shared/operator/check.js';
import { type JobSystem, openJobSystem } from '../../shared/wiring.js';
import { activate, pauseAt } from '../helpers/interleave.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deleteKeys, openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const env = testEnv();
let resources: TestResources;
let redis: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  resources = await openTestResources(env.config);
  redis = new Redis(env.config.REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  for (const prefix of prefixes) await deleteKeys(redis, `${prefix}:*`);
  redis.disconnect();
  await resources.cleanup();
});

/** Each test its own queue prefix (same table), so one test's jobs are never another's next job. */
function openSystem(): JobSystem {
  const { config } = testEnv({ DYNAMODB_TABLE_NAME: env.config.DYNAMODB_TABLE_NAME });
  prefixes.push(config.QUEUE_PREFIX);
  return openJobSystem({ config, redis, stores: resources.stores, logger: silentLogger, actor: 'test' });
}

describe('djq check on a live stack', () => {
  it('counts a job recorded by the producer but not yet added as pending, not lost', async () => {
    const system = openSystem();
    try {
      const gate = pauseAt(system.lifecycle, 'enqueue:recorded');
      const id = randomUUID();
      const enqueue = system.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: randomUUID() } }]);
      await gate.reached;

      const report = await checkLedger({ system });

      gate.release();
      await enqueue;
      expect(report).toMatchObject({ enqueued: 1, lost: 0, pending: 1 });
      expect(await checkLedger({ system })).toMatchObject({ enqueued: 1, lost: 0, pending: 1 });
    } finally {
      await system.close();
    }
  });

  it('counts a job that completes while the checker reads as completed, not lost', async () => {
    const system = openSystem();
    try {
      const id = randomUUID();
      await system.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: randomUUID() } }]);
      const running = await activate(system, id);
      // The job completes (decided in DynamoDB, then acknowledged) right after the checker's read
      // of the job records, before its look at the queue: the first read saw it undecided.
      const real = system.stores.jobs;
      let completed = false;
      const jobs = Object.create(real, {
        getMany: {
          value: async (ids: readonly string[]) => {
            const records = await real.getMany(ids);
            if (!completed) {
              completed = true;
              await completeNow(system, running.job, running.token);
            }
            return records;
          },
        },
      });

      const report = await checkLedger({ system: { ...system, stores: { ...system.stores, jobs } } });

      expect(completed).toBe(true);
      expect(report).toMatchObject({ enqueued: 1, completed: 1, lost: 0, pending: 0 });
    } finally {
      await system.close();
    }
  });
});

async function completeNow(system: JobSystem, job: Job, token: string): Promise<void> {
  const userId = String((job.data as { userId: string }).userId);
  const details = { attempt: 1, durationMs: 1, capacityUnits: 0, dynamoCalls: 1, dynamoMs: 1 };
  await system.lifecycle.completed(job, { ...details, result: { op: 'get-user', userId, found: false } });
  await job.moveToCompleted('ok', token, false);
}
