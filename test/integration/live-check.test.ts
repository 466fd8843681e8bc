// `djq check` on a live stack: a job whose producer has written its ledger record but whose addBulk
// has not landed yet is work in progress (pending), not lost. The producer is paused between its
// two steps with a gate, and the checker runs in that window.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLedger } from '../../shared/operator/check.js';
import { openJobSystem } from '../../shared/wiring.js';
import { pauseAt } from '../helpers/interleave.js';
import { silentLogger } from '../helpers/pipeline.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const env = testEnv();
let resources: TestResources;
let redis: Redis;

beforeAll(async () => {
  resources = await openTestResources(env.config);
  redis = new Redis(env.config.REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  redis.disconnect();
  await resources.cleanup();
});

describe('djq check on a live stack', () => {
  it('counts a job recorded by the producer but not yet added as pending, not lost', async () => {
    const system = openJobSystem({
      config: env.config,
      redis,
      stores: resources.stores,
      logger: silentLogger,
      actor: 'test',
    });
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
});
