// Every transition of one job id against every other, in the orders that used to lose a job or
// leave it in two states: the dead-letter move, redrive, purge, the sweep's stale page, a crash
// half-way through each, producer recovery and a stale delivery. Two actors (two JobSystems with
// their own Redis connections, as two processes would have), real Redis and BullMQ; each order is
// forced with gates (pause at a step, learn who waits on the lock), never with sleeps.

import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../shared/lifecycle/history-entry.js';
import { historyOf } from '../../shared/lifecycle/history-of.js';
import { checkLedger } from '../../shared/operator/check.js';
import { attemptsOf } from '../../shared/operator/job-timeline.js';
import {
  activate,
  completedAttempt,
  crashAt,
  deliveredGetUser,
  enqueueGetUser,
  failedJob,
  failNext,
  moveHalfway,
  noEffect,
  pausedAt,
  useRaceActors,
  waitingOnLock,
  whereIs,
} from '../helpers/interleave.js';

const { actor, resources, workerAndOperator } = useRaceActors();

describe('dead-letter move × redrive', () => {
  it('a redrive that arrives while the move is half-way waits for it, then redrives the moved job', async () => {
    const { worker, operator, job, id } = await workerAndOperator();
    const move = await moveHalfway(worker, job);
    const redrive = await waitingOnLock(operator.lifecycle, () => operator.console.redrive({ jobIds: [id] }));
    move.release();
    expect(await move.result).toBe('dead-lettered');
    expect((await redrive.result).done).toEqual([id]);
    // One state: back in the operations queue under its id, out of the DLQ.
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
  });

  it('a move that arrives after a redrive leaves the redriven instance alone', async () => {
    const { worker, operator, job, id } = await workerAndOperator();
    expect(await worker.lifecycle.settleFailed(job, noEffect)).toBe('dead-lettered');
    const redrive = await pausedAt(operator.lifecycle, 'redrive:added', id, () => operator.lifecycle.redrive(id));
    // The failed listener of another worker still holds the old (dead) instance: DynamoDB says its
    // generation was closed by the redrive, so the move leaves at once, without taking the lock.
    expect(await worker.lifecycle.settleFailed(job, noEffect)).toBe('gone');
    redrive.release();
    expect(await redrive.result).toBe('done');
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
  });
});

describe("the sweep's stale page", () => {
  it('never dead-letters a redriven job again, waiting or running', async () => {
    const sweeper = actor('sweeper');
    const operator = actor('operator');
    const job = await failedJob(sweeper);
    const id = String(job.id);
    const [stale] = await sweeper.queues.operations.getFailed(0, 0); // the sweep reads its page…
    expect(stale?.id).toBe(id);
    // …meanwhile the failed listener moves it, an operator redrives it, and a worker starts it.
    expect(await operator.lifecycle.settleFailed(job, noEffect)).toBe('dead-lettered');
    expect(await operator.lifecycle.redrive(id)).toBe('done');
    const running = await activate(operator, id);
    // The sweep reaches the stale entry of its page.
    expect(await sweeper.lifecycle.settleFailed(stale as NonNullable<typeof stale>, noEffect)).toBe('gone');
    expect(await whereIs(sweeper, id)).toMatchObject({ operations: 'active', deadLettered: false });
    // The running delivery completes: one state, completed.
    expect(await operator.lifecycle.completed(running.job, completedAttempt(id))).toBe(true);
    await running.job.moveToCompleted('ok', running.token, false);
    expect(await whereIs(sweeper, id)).toEqual({ operations: 'completed', deadLettered: false, outcome: 'completed' });
  });

  it('a job that fails again after its redrive is dead-lettered once, with every attempt', async () => {
    const system = actor('worker');
    const job = await failedJob(system);
    const id = String(job.id);
    await system.lifecycle.settleFailed(job, noEffect);
    await system.lifecycle.redrive(id);
    const again = await failNext(system, id);
    expect(await system.lifecycle.settleFailed(again, noEffect)).toBe('dead-lettered');
    const entry = await system.console.show(id);
    expect(entry?.redrives).toBe(1);
    expect(await whereIs(system, id)).toEqual({ operations: 'missing', deadLettered: true, outcome: 'dead-lettered' });
  });
});

describe('purge', () => {
  it('a purge racing a redrive: whichever runs second finds nothing, the job ends in one state', async () => {
    const { worker, operator, id } = await workerAndOperator({ deadLettered: true });
    const redrive = await pausedAt(operator.lifecycle, 'redrive:added', id, () => operator.lifecycle.redrive(id));
    const purge = await waitingOnLock(worker.lifecycle, () => worker.console.purge({ jobIds: [id] }));
    redrive.release();
    expect(await redrive.result).toBe('done');
    expect(await purge.result).toEqual({ done: [], notFound: [id], movedOn: [], busy: [] });
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
  });

  it('also removes the dead instance a crashed move left, so no sweep brings the job back', async () => {
    const { worker, operator, job, id } = await workerAndOperator();
    crashAt(worker.lifecycle, 'move:dead-letter-added');
    await expect(worker.lifecycle.settleFailed(job, noEffect)).rejects.toThrow(/simulated crash/);
    expect(await whereIs(operator, id)).toMatchObject({ operations: 'failed', deadLettered: true });
    expect((await operator.console.purge({ jobIds: [id] })).done).toEqual([id]);
    const sweeper = actor('sweeper');
    for (const stale of await sweeper.queues.operations.getFailed(0, -1))
      await sweeper.lifecycle.settleFailed(stale, noEffect);
    expect(await whereIs(operator, id)).toEqual({ operations: 'missing', deadLettered: false, outcome: 'purged' });
  });
});

describe('a crash half-way', () => {
  it('through a move: the sweep finishes it (one DLQ entry, no failed instance)', async () => {
    const worker = actor('worker');
    const job = await failedJob(worker);
    const id = String(job.id);
    crashAt(worker.lifecycle, 'move:dead-letter-added');
    await expect(worker.lifecycle.settleFailed(job, noEffect)).rejects.toThrow(/simulated crash/);
    const sweeper = actor('sweeper');
    const [left] = await sweeper.queues.operations.getFailed(0, 0);
    expect(await sweeper.lifecycle.settleFailed(left as NonNullable<typeof left>, noEffect)).toBe('dead-lettered');
    expect(await whereIs(sweeper, id)).toEqual({ operations: 'missing', deadLettered: true, outcome: 'dead-lettered' });
  });

  it('through a redrive: the new instance stays held until the sweep finishes the redrive', async () => {
    const { worker, operator, id } = await workerAndOperator({ deadLettered: true });
    crashAt(operator.lifecycle, 'redrive:added');
    await expect(operator.lifecycle.redrive(id)).rejects.toThrow(/simulated crash/);
    // Both records exist, but the new instance cannot run while the old entry is there.
    expect(await whereIs(worker, id)).toMatchObject({ operations: 'delayed', deadLettered: true });
    expect(await worker.lifecycle.finishInterruptedRedrives()).toBe(1);
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
    await worker.history.flush();
    await operator.history.flush();
    expect((await resources().stores.history.list(id)).map((e) => e.type)).toEqual(
      expect.arrayContaining(['enqueued', 'dead-lettered', 'redriven']),
    );
  });

  it('through a redrive, then purged: both the entry and the held instance go', async () => {
    const { worker, operator, id } = await workerAndOperator({ deadLettered: true });
    crashAt(operator.lifecycle, 'redrive:added');
    await expect(operator.lifecycle.redrive(id)).rejects.toThrow(/simulated crash/);
    expect((await worker.console.purge({ jobIds: [id] })).done).toEqual([id]);
    expect(await worker.lifecycle.finishInterruptedRedrives()).toBe(0);
    expect(await whereIs(worker, id)).toEqual({ operations: 'missing', deadLettered: false, outcome: 'purged' });
  });
});

describe('producer recovery', () => {
  it('never re-adds a job an operator purged', async () => {
    const producer = actor('producer');
    const id = randomUUID();
    // A producer that died after its addBulk, before marking the record committed.
    crashAt(producer.lifecycle, 'enqueue:added');
    await expect(producer.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: id } }])).rejects.toThrow();
    const worker = actor('worker');
    const failed = await failNext(worker, id);
    await worker.lifecycle.settleFailed(failed, noEffect);
    expect((await worker.console.purge({ jobIds: [id] })).done).toEqual([id]);
    const restarted = actor('producer-2');
    expect(await restarted.lifecycle.recover()).toBe(0);
    expect(await whereIs(restarted, id)).toEqual({ operations: 'missing', deadLettered: false, outcome: 'purged' });
  });

  it('re-adds a recorded job that never reached Redis', async () => {
    const producer = actor('producer');
    const id = randomUUID();
    crashAt(producer.lifecycle, 'enqueue:recorded');
    await expect(producer.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: id } }])).rejects.toThrow();
    expect(await whereIs(producer, id)).toMatchObject({ operations: 'missing' });
    expect(await actor('producer-2').lifecycle.recover()).toBe(1);
    expect(await whereIs(producer, id)).toMatchObject({ operations: 'waiting' });
  });
});

describe('a stale delivery', () => {
  it('decides in DynamoDB what is true, but cannot acknowledge the job in Redis once its lock is gone', async () => {
    const system = actor('worker');
    const { id, job, token } = await deliveredGetUser(system);
    // The lock expired (the worker blocked) and the stalled check gave the job to another delivery.
    const { redis } = system.lifecycle.deps;
    const owner = 'the-next-delivery';
    await redis.set(system.keys.activeJobLock(id), owner);
    // Its effect is idempotent and nobody decided yet: `completed` is the truth, and stands.
    expect(await system.lifecycle.completed(job, completedAttempt(id))).toBe(true);
    expect(await whereIs(system, id)).toEqual({ operations: 'active', deadLettered: false, outcome: 'completed' });
    // What the ledger's lock-checked `completed` entry used to guard is BullMQ's own check: the
    // stale delivery's ack is refused, and the job stays with its owner, who follows the decision.
    await expect(job.moveToCompleted('ok', token, false)).rejects.toThrow(/lock/i);
    expect(await redis.get(system.keys.activeJobLock(id))).toBe(owner);
    expect(await whereIs(system, id)).toMatchObject({ operations: 'active' });
  });
});

describe('a stale delivery and the next delivery of the same job', () => {
  it("djq history pairs each delivery's completion with its own start (no attempt shown that never started)", async () => {
    const a = actor('worker-a');
    const b = actor('worker-b');
    const id = await enqueueGetUser(a);
    const entries: HistoryEntry[] = [];
    for (const system of [a, b])
      system.lifecycle.onTransition((t) => {
        if ('jobId' in t && t.jobId === id) entries.push(...historyOf(t));
      });
    // Worker A takes the job and starts its attempt…
    const stale = await activate(a, id);
    a.lifecycle.attemptStarted(stale.job);
    // …then blocks past its lock: the stalled check gives the job back to the queue (two passes:
    // the first marks it, the second finds its lock gone), and worker B takes it, attempt 1 again.
    const checker = new Worker(a.keys.operations, undefined, {
      connection: a.queues.operations.opts.connection,
      prefix: a.keys.prefix,
      autorun: false,
      maxStalledCount: 2,
    });
    try {
      const stalledCheck = () =>
        (checker as unknown as { moveStalledJobsToWait(): Promise<void> }).moveStalledJobsToWait();
      await stalledCheck();
      // The lock expires, and the next pass comes (its interval is over: its throttle key goes).
      await resources().redis.del(a.keys.activeJobLock(id), a.queues.operations.toKey('stalled-check'));
      await stalledCheck();
    } finally {
      await checker.close();
    }
    const next = await activate(b, id);
    b.lifecycle.attemptStarted(next.job);
    // A wakes and completes (it decides: its work is true), then B completes and follows.
    expect(await a.lifecycle.completed(stale.job, { ...completedAttempt(id), durationMs: 111 })).toBe(true);
    expect(await b.lifecycle.completed(next.job, { ...completedAttempt(id), durationMs: 222 })).toBe(true);
    const attempts = attemptsOf(entries);
    // Two deliveries ran: two attempts, each started and ended by its own worker.
    expect(attempts.map((x) => [x.workerId, x.outcome, x.durationMs])).toEqual([
      ['worker-a', 'completed', 111],
      ['worker-b', 'completed', 222],
    ]);
    for (const attempt of attempts) expect(attempt.startedAt).toBeDefined();
  });
});

describe('djq check on a live stack', () => {
  it('does not report a job lost that completed (and left the queue) while the check was reading', async () => {
    const system = actor('worker');
    const id = await enqueueGetUser(system);
    const report = await checkLedger({
      system,
      // Between the check's first reads and its look at the queue, the job completes and is removed
      // (retention), so the queue no longer knows it.
      afterFirstReads: async () => {
        const { job, token } = await activate(system, id);
        expect(await system.lifecycle.completed(job, completedAttempt(id))).toBe(true);
        await job.moveToCompleted('ok', token, false);
        await job.remove();
      },
    });
    expect(report).toMatchObject({ enqueued: 1, completed: 1, lost: 0, pending: 0 });
  });
});
