// Redis is a cache of work DynamoDB can rebuild: after the queue's Redis data is wiped (what a
// FLUSHALL or a new empty server leaves), the epoch says so, the checker counts the accepted jobs no
// queue holds, and recovery re-enqueues exactly those — never one that completed or was
// dead-lettered — after which real workers finish them, each effect applied once.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkPassed, checkShards } from '../../shared/operator/check.js';
import { checkDecisions } from '../../shared/operator/check-decisions.js';
import { recoverFromRecords } from '../../shared/operator/recover.js';
import { activate, completedAttempt, failNext } from '../helpers/interleave.js';
import { newUser, startTestWorker, useShardedSystem, waitFor } from '../helpers/pipeline.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';

const env = testEnv();
const sharded = useShardedSystem(env);

describe('after Redis loses the queue', () => {
  it('recovery re-enqueues every accepted job with no outcome, and only those', async () => {
    const [shard] = sharded.system.shards;
    if (!shard) throw new Error('no shard');
    expect((await shard.checkEpoch()).state).toBe('ok');
    // One job completed, one dead-lettered, six creates still waiting.
    const done = randomUUID();
    const dead = randomUUID();
    await shard.lifecycle.enqueue([
      { id: done, name: 'get-user', data: { userId: done } },
      { id: dead, name: 'get-user', data: { userId: dead } },
    ]);
    const first = await activate(shard, done);
    expect(await shard.lifecycle.completed(first.job, completedAttempt(done))).toBe(true);
    await first.job.moveToCompleted('ok', first.token, false);
    expect(
      await shard.lifecycle.settleFailed(await failNext(shard, dead), async () => ({
        applied: false,
        landed: [],
        missing: [],
      })),
    ).toBe('dead-lettered');
    const waiting = Array.from({ length: 6 }, () => newUser());
    await shard.lifecycle.enqueue(waiting.map((user) => ({ id: randomUUID(), name: 'create-user', data: { user } })));

    // Redis loses everything of this queue.
    await deleteKeys(sharded.resources.redis, shard.keys.everyKeyPattern);
    expect((await shard.checkEpoch()).state).toBe('redis-lost');
    expect(await checkDecisions(sharded.resources.stores, [shard.queues])).toMatchObject({ undecidedNotInRedis: 6 });
    const lostCheck = await checkShards({ shards: sharded.system.shards, stores: sharded.resources.stores });
    expect(lostCheck.epochs).toEqual(['redis-lost']);
    expect(checkPassed(lostCheck)).toBe(false);

    const dry = await recoverFromRecords(sharded.system, { dryRun: true });
    expect(dry).toMatchObject({ reEnqueued: 6, deadLettersRestored: 1 });
    expect(await shard.queues.operations.count()).toBe(0); // a dry run changes nothing

    const report = await recoverFromRecords(sharded.system);
    expect(report).toMatchObject({ reEnqueued: 6, deadLettersRestored: 1 });
    expect((await shard.checkEpoch()).state).toBe('ok');
    expect(await shard.queues.operations.getJob(done)).toBeUndefined();
    expect((await shard.queues.deadLetter.getJob(dead))?.data).toMatchObject({ originalJobId: dead });
    // A second run finds nothing to do.
    expect(await recoverFromRecords(sharded.system)).toMatchObject({ reEnqueued: 0, deadLettersRestored: 0 });

    const worker = startTestWorker(env.config);
    try {
      await waitFor('the recovered jobs to complete', async () => {
        const report = await checkDecisions(sharded.resources.stores, [shard.queues]);
        return report.undecided === 0 && report.undecidedNotInRedis === 0 ? report : undefined;
      });
    } finally {
      await worker.stop();
    }
    for (const user of waiting) expect((await sharded.resources.stores.users.getHead(user.id))?.version).toBe(1);
    expect(await checkDecisions(sharded.resources.stores, [shard.queues])).toMatchObject({
      twoOutcomes: 0,
      deadLetteredWithEffect: 0,
      completedWithoutEffect: 0,
    });
  });

  it('djq check fails when Redis and the table belong to different runs', async () => {
    const [shard] = sharded.system.shards;
    if (!shard) throw new Error('no shard');
    expect((await shard.checkEpoch()).state).toBe('ok');
    // Another run's Redis data under the same names (the table was replaced, or Redis pointed elsewhere).
    await sharded.resources.redis.set(shard.keys.epoch, 'another-run');
    const report = await checkShards({ shards: sharded.system.shards, stores: sharded.resources.stores });
    expect(report.epochs).toEqual(['mismatch']);
    expect(checkPassed(report)).toBe(false);
    await shard.restoreEpoch(await shard.beginRecovery());
  });
});
