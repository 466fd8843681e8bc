// The ledger on real Redis: trimmed streams keep a window in which every job has all its records
// (the outcomes stream holds the transitions written under a job's lock: dead-lettered, redriven,
// purged; completions are DynamoDB's alone).
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { Ledger } from '../../shared/lifecycle/ledger.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';

const env = testEnv();
const redis = new Redis(env.config.REDIS_URL);

afterAll(async () => {
  await deleteKeys(redis, queueKeys(env.config).everyKeyPattern);
  redis.disconnect();
});

describe('Ledger', () => {
  it('checks from the point where trimming left both streams whole', async () => {
    const ledger = new Ledger(redis, queueKeys(env.config), 50);
    expect(await ledger.checkWindow()).toBe('0-0');
    // Ticks of 3 jobs, each job with one outcome entry: the outcomes stream fills 3× faster and is trimmed first.
    for (let tick = 0; tick < 200; tick++) {
      const jobs = [0, 1, 2].map((i) => ({ id: `t${tick}-${i}`, name: 'get-user', data: {} }));
      await ledger.recordEnqueued(jobs);
      for (const job of jobs) await ledger.recordOutcome(job.id, 'dead-lettered');
    }
    const window = await ledger.checkWindow();
    expect(window).not.toBe('0-0');
    const [enqueued, outcomes] = await Promise.all([ledger.readEnqueued(window), ledger.readOutcomes()]);
    expect(enqueued.size).toBeGreaterThan(0);
    for (const id of enqueued.keys()) expect(outcomes.get(id)).toBe('dead-lettered');
    // Without the window, some enqueued jobs would have lost their outcome to trimming.
    const all = await ledger.readEnqueued();
    expect([...all.keys()].some((id) => !outcomes.has(id))).toBe(true);
  });

  it('says so once the enqueued stream is trimmed, though the outcomes stream is not', async () => {
    // Completions are DynamoDB's alone: a run with no dead letters writes no outcome entry at all,
    // and its enqueued stream (one record a tick) is what trimming reaches.
    const keys = queueKeys(testEnv().config);
    const ledger = new Ledger(redis, keys, 50);
    try {
      for (let tick = 0; tick < 300; tick++)
        await ledger.recordEnqueued([{ id: `only-${tick}`, name: 'get-user', data: {} }]);
      expect(await redis.xlen(ledger.enqueuedKey)).toBeLessThan(300);
      const window = await ledger.checkWindow();
      // Not "since the start": the first ticks' records are gone, so their jobs are not checked.
      expect(window).not.toBe('0-0');
      // And every record still held is in the window (none left out of the check).
      const held = await ledger.readEnqueued();
      expect(held.has('only-0')).toBe(false);
      expect([...(await ledger.readEnqueued(window)).keys()]).toEqual([...held.keys()]);
    } finally {
      await deleteKeys(redis, keys.everyKeyPattern);
    }
  });
});
