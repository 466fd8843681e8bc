// Interleavings at the edges of the per-job-id rule, each forced with gates (never sleeps): a
// transition whose lock ran out while it was half-way, a redrive that died after releasing its job
// but before clearing its intent, and `djq check` reading while a stalled dead letter is settled.
// Two actors (two JobSystems with their own Redis connections, as two processes), real Redis and BullMQ.

import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { checkLedger } from '../../shared/operator/check.js';
import {
  activate,
  completedAttempt,
  crashAt,
  enqueueGetUser,
  failNext,
  moveHalfway,
  noEffect,
  useRaceActors,
  whereIs,
} from '../helpers/interleave.js';

const { actor, resources, workerAndOperator } = useRaceActors();

describe('a transition whose lock ran out half-way', () => {
  it('a move that resumes after its lock expired and a redrive took the id never removes the redriven job', async () => {
    const { worker, operator, job, id } = await workerAndOperator();
    // The mover stops (a GC pause, a blocked event loop, a SIGSTOP) after adding the DLQ entry…
    const move = await moveHalfway(worker, job);
    // …for longer than the lock's TTL: the lock is gone and an operator's redrive takes it.
    await resources().redis.del(worker.keys.transitionLock(id));
    expect(await operator.lifecycle.redrive(id)).toBe('done');
    expect(await whereIs(operator, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
    // The mover wakes up and carries on with what it thinks it still holds.
    move.release();
    await expect(move.result).rejects.toThrow(/expired while its transition was half-way/);
    expect(await whereIs(operator, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
    expect(await checkLedger({ system: operator })).toMatchObject({ lost: 0, duplicated: 0, pending: 1 });
  });
});

describe('a redrive that died after releasing its job, before clearing its intent', () => {
  it('the sweep clears the intent and never records "redriven" over the job\'s later completion', async () => {
    const { worker, operator, job, id } = await workerAndOperator();
    expect(await worker.lifecycle.settleFailed(job, noEffect)).toBe('dead-lettered');
    crashAt(operator.lifecycle, 'redrive:released');
    await expect(operator.lifecycle.redrive(id)).rejects.toThrow(/simulated crash/);
    // The released job runs and completes before the next sweep.
    const running = await activate(worker, id);
    expect(await worker.lifecycle.completed(running.job, completedAttempt(id))).toBe(true);
    await running.job.moveToCompleted('ok', running.token, false);
    await worker.lifecycle.finishInterruptedRedrives();
    expect(await whereIs(worker, id)).toEqual({ operations: 'completed', deadLettered: false, outcome: 'completed' });
    expect(await resources().redis.hget(worker.keys.redriveIntents, id)).toBeNull();
    expect(await checkLedger({ system: worker })).toMatchObject({ completed: 1, lost: 0, duplicated: 0 });
  });
  it("an operator redrive of the job's next dead-letter entry redrives it, not the stale intent", async () => {
    const { worker, operator, id } = await workerAndOperator({ deadLettered: true });
    crashAt(operator.lifecycle, 'redrive:released');
    await expect(operator.lifecycle.redrive(id)).rejects.toThrow(/simulated crash/);
    // The released job fails for good again, and its move dies after adding the new DLQ entry.
    const again = await failNext(worker, id);
    crashAt(worker.lifecycle, 'move:dead-letter-added');
    await expect(worker.lifecycle.settleFailed(again, noEffect)).rejects.toThrow(/simulated crash/);
    // Before any sweep, another operator redrives it.
    expect(await actor('operator-2').lifecycle.redrive(id)).toBe('done');
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
  });
});

describe('djq check on a live stack', () => {
  it('a job recorded completed whose ack was lost is settled completed, never dead-lettered', async () => {
    const worker = actor('worker');
    const checker = actor('checker');
    const id = await enqueueGetUser(worker);
    // Its delivery records `completed` (DynamoDB decides), then its ack never lands and the job
    // fails for good (a stall past MAX_STALLED_COUNT leaves the same records). A get has no
    // effect to find: only the decision tells it completed.
    const { job, token } = await activate(worker, id);
    expect(await worker.lifecycle.completed(job, completedAttempt(id))).toBe(true);
    await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), token, false);
    const failed = await worker.queues.operations.getJob(id);
    expect(await worker.lifecycle.settleFailed(failed as NonNullable<typeof failed>, noEffect)).toBe('completed');
    expect(await whereIs(worker, id)).toEqual({ operations: 'missing', deadLettered: false, outcome: 'completed' });
    const record = await worker.stores.jobs.get(id);
    expect(record?.marks.map((m) => m.outcome)).toEqual(['completed']);
    expect(await checkLedger({ system: checker })).toMatchObject({ completed: 1, deadLettered: 0, duplicated: 0 });
  });
});

describe('a put-back by a delivery that lost its lock', () => {
  it('a throttled delivery whose lock went to another worker moves nothing and records nothing', async () => {
    const first = actor('first');
    const second = actor('second');
    const id = randomUUID();
    await first.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: randomUUID() } }]);
    const stale = await activate(first, id);
    // The first delivery stalls past its lock (a long GC pause, a stuck DynamoDB call) and the
    // stalled check gives the job to the second worker: its lock now holds the second's token.
    await resources().redis.set(first.keys.activeJobLock(id), 'second-worker-token', 'PX', 30_000);
    // The first delivery wakes up throttled and tries to put the job back.
    await expect(
      first.lifecycle.putBack(stale.job, stale.token, {
        attempt: 1,
        delayMs: 100,
        cause: 'throttled',
        reason: 'throttled',
        capacityUnits: 0,
      }),
    ).rejects.toThrow(/lock/i);
    // The job stays active under its new owner, with no put-back in its history.
    expect(await whereIs(second, id)).toMatchObject({ operations: 'active' });
    await first.history.flush();
    expect((await resources().stores.history.list(id)).map((e) => e.type)).not.toContain('put-back');
  });
});
