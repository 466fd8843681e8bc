// DynamoDB decides each job's outcome: the orders that used to give a job two outcomes, or a
// dead-lettered job its effect, driven step by step against real Redis, BullMQ and dynalite. A
// "stale delivery" is a delivery whose lock expired while it was still working (a paused process):
// here it is the write path itself, paused at its link by a gate, never by a sleep.

import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { TransitionLockLostError } from '../../shared/lifecycle/transition-lock.js';
import { checkDecisions, generationsWithTwoOutcomes } from '../../shared/operator/check-decisions.js';
import { JobBarredError } from '../../shared/store/errors.js';
import type { OutcomeMark } from '../../shared/store/types.js';
import { UserCommands } from '../../worker/user-commands.js';
import {
  activate,
  completedAttempt,
  deliveredGetUser,
  pausedAt,
  useRaceActors,
  whereIs,
} from '../helpers/interleave.js';
import { failedUpdateJob, marksOf, moveOf, staleDeliveryOfFailedJob, updateJobOfNewUser } from '../helpers/outcomes.js';

const { actor, resources } = useRaceActors();

describe('a stale delivery against a dead-letter move', () => {
  it('cannot land its effect after the move decided: it is barred and applies nothing', async () => {
    const worker = actor('worker');
    // The delivery reads the head and writes its event, then pauses before its link…
    // …its lock expires, the stalled check fails the job for good, and a worker moves it.
    const { id, userId, job, token, delivery, stale } = await staleDeliveryOfFailedJob(worker, resources().stores);
    expect(await moveOf(worker)(id)).toBe('dead-lettered');
    // The delivery wakes up: its link loses to the bar, and it learns the job was decided.
    stale.gate.release();
    await expect(delivery).rejects.toBeInstanceOf(JobBarredError);
    expect((await resources().stores.users.getHead(userId))?.version).toBe(1);
    expect(await marksOf(worker, id)).toEqual(['dead-lettered']);
    // Nor can it decide the job completed, or acknowledge it in Redis.
    expect(await worker.lifecycle.completed(job, completedAttempt(userId))).toBe(false);
    await expect(job.moveToCompleted('ok', token, false)).rejects.toThrow();
    expect(await whereIs(worker, id)).toMatchObject({
      operations: 'missing',
      deadLettered: true,
      outcome: 'dead-lettered',
    });
  });

  it("its attempt's log line, written without a lock, decides nothing", async () => {
    const worker = actor('worker');
    const { id, userId, job, delivery, stale } = await staleDeliveryOfFailedJob(worker, resources().stores);
    // The stale delivery logs a failed attempt of its own (job.log takes no lock) before the move:
    // the move's decision does not read the logs, so the line hides nothing.
    await worker.lifecycle.attemptFailed(job, {
      attempt: 1,
      maxAttempts: 5,
      durationMs: 1,
      errorClass: 'TimeoutError',
      kind: 'network',
      message: 'a slow call',
      retryable: true,
      final: false,
      capacityUnits: 0,
    });
    expect(await moveOf(worker)(id)).toBe('dead-lettered');
    stale.gate.release();
    await expect(delivery).rejects.toBeInstanceOf(JobBarredError);
    expect((await resources().stores.users.getHead(userId))?.version).toBe(1);
    expect(await marksOf(worker, id)).toEqual(['dead-lettered']);
  });

  it('a move that comes after the link finds the effect landed and decides completed', async () => {
    const worker = actor('worker');
    const { id, userId } = await updateJobOfNewUser(worker);
    const { job, token } = await activate(worker, id);
    // The delivery links (the effect lands), then loses its lock before recording anything.
    await new UserCommands(resources().stores).update(id, userId, { age: 42 });
    await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), token, false);
    expect(await moveOf(worker)(id)).toBe('completed');
    expect(await marksOf(worker, id)).toEqual(['completed']);
    expect(await whereIs(worker, id)).toMatchObject({ operations: 'missing', deadLettered: false });
  });

  it('after a redrive the job runs again and applies its effect once', async () => {
    const worker = actor('worker');
    const operator = actor('operator');
    const { id, userId } = await failedUpdateJob(worker);
    expect(await moveOf(worker)(id)).toBe('dead-lettered');
    expect(await operator.lifecycle.redrive(id)).toBe('done');
    const next = await activate(worker, id);
    expect((await new UserCommands(resources().stores).update(id, userId, { age: 42 })).applied).toBe(true);
    expect(await worker.lifecycle.completed(next.job, completedAttempt(userId))).toBe(true);
    expect((await resources().stores.users.getHead(userId))?.version).toBe(2);
    expect(await marksOf(worker, id)).toEqual(['dead-lettered', 'redriven', 'completed']);
  });
});

describe('a move paused past its transition lock', () => {
  it('writes nothing more once a redrive has run and the job completed: one outcome per generation', async () => {
    const worker = actor('worker');
    const operator = actor('operator');
    const { id, userId } = await failedUpdateJob(worker);
    // The move decides and adds the DLQ entry, then its process pauses…
    const move = await pausedAt(worker.lifecycle, 'move:dead-letter-added', id, () => moveOf(worker)(id));
    // …past the transition lock's lifetime (its key expires: deleted here, deterministically).
    await resources().redis.del(worker.keys.transitionLock(id));
    expect(await operator.lifecycle.redrive(id)).toBe('done');
    const next = await activate(worker, id);
    await new UserCommands(resources().stores).update(id, userId, { age: 42 });
    expect(await worker.lifecycle.completed(next.job, completedAttempt(userId))).toBe(true);
    move.release();
    await expect(move.result).rejects.toBeInstanceOf(TransitionLockLostError);
    expect(await marksOf(worker, id)).toEqual(['dead-lettered', 'redriven', 'completed']);
    expect((await worker.stores.jobs.get(id))?.outcome).toBe('completed');
    expect(await whereIs(worker, id)).toMatchObject({ deadLettered: false, outcome: 'completed' });
  });
});

describe('a job with no effect', () => {
  it('recorded completed by a delivery that then stalled is never dead-lettered', async () => {
    const worker = actor('worker');
    const { id, job, token } = await deliveredGetUser(worker);
    expect(await worker.lifecycle.completed(job, completedAttempt(id))).toBe(true);
    // Its ack never lands; the stalled check fails it for good (MAX_STALLED_COUNT).
    await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), token, false);
    expect(await moveOf(worker)(id)).toBe('completed');
    expect(await marksOf(worker, id)).toEqual(['completed']);
  });
});

describe('the checker reads every outcome from DynamoDB', () => {
  it('flags a dead-lettered job with its effect, and accepted work no Redis queue holds', async () => {
    const worker = actor('worker');
    const { id, userId } = await updateJobOfNewUser(worker);
    const before = await checkDecisions(worker.stores, [worker.queues]);
    expect(before).toMatchObject({ undecided: 1, undecidedNotInRedis: 0, deadLetteredWithEffect: 0 });
    // What the old move allowed: the effect lands, and the job is recorded dead-lettered anyway.
    await new UserCommands(resources().stores).update(id, userId, { age: 42 });
    await worker.stores.jobs.decide(id, 'dead-lettered', 'a-move-without-bars', { op: undefined });
    // And Redis loses an accepted job (a failover that dropped the last writes).
    const lost = randomUUID();
    await worker.stores.jobs.accept([{ id: lost, name: 'get-user', data: { userId: lost } }]);
    const after = await checkDecisions(worker.stores, [worker.queues]);
    expect(after).toMatchObject({ deadLetteredWithEffect: 1, undecidedNotInRedis: 1, twoOutcomes: 0 });
  });
});

describe('the checker and a completed write job', () => {
  it('counts one whose effect is missing (recorded completed, its event never linked)', async () => {
    const worker = actor('worker');
    // The table is shared by this file's tests: counted from what they left.
    const before = (await checkDecisions(worker.stores, [worker.queues])).completedWithoutEffect;
    const { id, userId } = await updateJobOfNewUser(worker);
    // What a bug could leave: the job recorded completed while its update never reached the user.
    expect(
      await worker.stores.jobs.decide(id, 'completed', 'a-delivery-that-linked-nothing', { op: 'update-user' }),
    ).toMatchObject({
      won: true,
    });
    expect((await resources().stores.users.getHead(userId))?.version).toBe(1);
    const report = await checkDecisions(worker.stores, [worker.queues]);
    expect(report.completedWithoutEffect).toBe(before + 1);
    expect(report.completedWithoutEffect).toBeGreaterThan(0);
    // Once its event is linked (the job id is the idempotency key), the checker is satisfied.
    await new UserCommands(resources().stores).update(id, userId, { age: 42 });
    expect((await checkDecisions(worker.stores, [worker.queues])).completedWithoutEffect).toBe(before);
  });
});

describe('generationsWithTwoOutcomes', () => {
  const mark = (outcome: OutcomeMark['outcome']): OutcomeMark => ({ outcome, at: '', by: 't' });
  it('counts a generation decided twice, and not two generations decided once each', () => {
    expect(generationsWithTwoOutcomes([mark('dead-lettered'), mark('redriven'), mark('completed')])).toBe(0);
    expect(generationsWithTwoOutcomes([mark('completed'), mark('dead-lettered')])).toBe(1);
    expect(generationsWithTwoOutcomes([mark('dead-lettered'), mark('purged')])).toBe(0);
  });
});

describe('a DLQ entry DynamoDB contradicts (a cache write of a move paused past its lock)', () => {
  it('is dropped by a redrive or a purge, which change nothing else', async () => {
    const worker = actor('worker');
    const operator = actor('operator');
    for (const action of ['redrive', 'purge'] as const) {
      const { id, job, token } = await deliveredGetUser(worker);
      expect(await worker.lifecycle.completed(job, completedAttempt(id))).toBe(true);
      await job.moveToCompleted('ok', token, false);
      await worker.queues.deadLetter.add(
        'get-user',
        { originalJobId: id, reason: 'stale', attempts: [] },
        { jobId: id },
      );
      expect(await operator.console[action]({ jobIds: [id] })).toMatchObject({ done: [], notFound: [id] });
      expect(await worker.queues.deadLetter.getJob(id)).toBeUndefined();
      expect(await marksOf(worker, id)).toEqual(['completed']);
    }
  });
});
