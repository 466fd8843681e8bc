// Orders of operations on one job id that tried to break "DynamoDB decides each job's outcome".
// Every ordering is forced by gates (a paused write path, a paused bar) or a simulated crash at a
// lifecycle step: no sleeps.

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isLinked } from '../../shared/lifecycle/effect-bars.js';
import { type HistoryEntry, HistoryRecorder } from '../../shared/lifecycle/history.js';
import { MemoryJobHistory } from '../../shared/store/memory-stores.js';
import { barredGenerations } from '../../shared/store/types.js';
import { UserCommands } from '../../worker/user-commands.js';
import { activate, completedAttempt, crashAt, failNext, noEffect, useRaceActors } from '../helpers/interleave.js';
import {
  failedUpdateJob,
  marksOf,
  moveOf,
  movePausedBeforeBar,
  notDeadLettered,
  staleDeliveryOfFailedJob,
} from '../helpers/outcomes.js';
import { deleteKeys } from '../helpers/stack.js';

const { actor, resources } = useRaceActors();

describe('a purge of a redrive held back', () => {
  it('never purges a job whose effect a delivery landed while the redrive was held', async () => {
    const worker = actor('worker');
    const operator = actor('operator');
    // Generation 1's delivery writes its event and pauses before its link; its lock expires.
    const { id, userId, delivery, stale } = await staleDeliveryOfFailedJob(worker, resources().stores);
    expect(await moveOf(worker)(id)).toBe('dead-lettered');
    // A redrive reopens the generation, lifts the bars, adds the new instance held and dies.
    crashAt(operator.lifecycle, 'redrive:added');
    await expect(operator.lifecycle.redrive(id)).rejects.toThrow(/simulated crash/);
    // The stale delivery wakes: its first link loses (barSeq moved), its next round links.
    stale.gate.release();
    expect(await delivery).toMatchObject({ applied: true });
    expect(await isLinked(resources().stores, id, userId)).toBe(true);
    // It pauses before completed(); an operator purges the held redrive.
    const purger = actor('djq');
    await purger.lifecycle.purge(id);
    const record = await purger.stores.jobs.get(id);
    // Its effect is applied: it must not be recorded dead-lettered-then-purged.
    expect(record?.outcome).toBe('completed');
    expect(await marksOf(purger, id)).toEqual(['dead-lettered', 'redriven', 'completed']);
  });
});

describe('a move paused before its decision, across a redrive', () => {
  it('does not decide the next generation with the old instance', async () => {
    const worker = actor('worker');
    const other = actor('other-worker');
    const operator = actor('operator');
    const { id } = await failedUpdateJob(worker);
    // Move B (a sweep's page) reads the undecided record and pauses before its bar.
    const stale = await movePausedBeforeBar(worker, id);
    // Move A settles the same instance, and the operator redrives it: generation 2 is waiting.
    expect(await moveOf(other)(id)).toBe('dead-lettered');
    expect(await operator.lifecycle.redrive(id)).toBe('done');
    expect(await marksOf(operator, id)).toEqual(['dead-lettered', 'redriven']);
    // Move B wakes up: the instance it read is long gone.
    stale.release();
    expect(await stale.result).toBe('gone');
    // Generation 2 has not run: nothing may have decided it, nor barred it.
    expect(await marksOf(operator, id)).toEqual(['dead-lettered', 'redriven']);
  });

  // The paused move's bar still lands after the redrive lifted the bars (bar and record read are
  // not one step), but it names generation 1: generation 2's delivery is not stopped by it.
  it("a bar of the old generation does not stop the redriven job's delivery", async () => {
    const worker = actor('worker');
    const other = actor('other-worker');
    const operator = actor('operator');
    const { id, userId } = await failedUpdateJob(worker);
    const stale = await movePausedBeforeBar(worker, id);
    expect(await moveOf(other)(id)).toBe('dead-lettered');
    expect(await operator.lifecycle.redrive(id)).toBe('done');
    stale.release();
    expect(await stale.result).toBe('gone');
    // The stale bar is there, and names the old generation…
    const { bars } = await resources().stores.users.readForWrite(userId);
    expect(barredGenerations(bars, id)).toEqual([0]);
    // …so the redriven instance's delivery applies its effect, and completes.
    const next = await activate(worker, id);
    const stores = resources().stores;
    const commands = new UserCommands({ events: stores.events, users: stores.users, records: stores.jobs });
    expect((await commands.update(id, userId, { age: 42 })).applied).toBe(true);
    expect(await worker.lifecycle.completed(next.job, completedAttempt(userId))).toBe(true);
    expect(await marksOf(operator, id)).toEqual(['dead-lettered', 'redriven', 'completed']);
  });
});

describe('djq recover of a reopened generation', () => {
  // The generation's start is a timestamp from the host that redrove (or from the move's DLQ entry):
  // a restored instance stamped by a host whose clock is behind it is taken for a stale page of an
  // earlier generation by every move, and stays in the failed set for ever, undecided.
  it('re-enqueues an instance its next move can settle, whatever the clocks', async () => {
    const worker = actor('worker');
    const id = randomUUID();
    const job = { id, name: 'get-user', data: { userId: id } };
    await worker.lifecycle.enqueue([job]);
    expect(await worker.lifecycle.settleFailed(await failNext(worker, id), noEffect)).toBe('dead-lettered');
    // A redrive on a host a minute ahead reopens the generation and dies before adding the instance…
    expect(await worker.stores.jobs.reopen(id, 'operator', Date.now() + 60_000)).toBe(true);
    // …and Redis loses the queue: djq recover puts the undecided job back.
    await deleteKeys(resources().redis, worker.keys.everyKeyPattern);
    const recoverer = actor('djq');
    expect(await recoverer.lifecycle.restoreAccepted(job, notDeadLettered)).toBe('job');
    // It fails for good: its move must decide it, not skip it as an earlier generation's.
    expect(await worker.lifecycle.settleFailed(await failNext(worker, id), noEffect)).toBe('dead-lettered');
    expect(await marksOf(worker, id)).toEqual(['dead-lettered', 'redriven', 'dead-lettered']);
  });
});

describe('the history spill at shutdown', () => {
  // The table takes the last batch, then the recorder takes back a batch of the fleet's spill:
  // with Redis stuck (a command that never answers) that take never returns, and close() with it.
  // Only the services' outer SHUTDOWN_TIMEOUT_MS exit bounded it; djq, with no such exit, hung.
  it('does not wait on a stuck Redis once its own entries are written', async () => {
    const store = new MemoryJobHistory();
    let takeCalled!: () => void;
    const took = new Promise<'took'>((r) => {
      takeCalled = () => r('took');
    });
    const recorder = new HistoryRecorder({
      store,
      flushIntervalMs: 60_000,
      maxBuffered: 100,
      spill: {
        push: async () => 0,
        take: () => {
          takeCalled();
          return new Promise<HistoryEntry[]>(() => undefined); // Redis never answers
        },
      },
    });
    recorder.record({ type: 'enqueued', jobId: randomUUID(), at: new Date().toISOString() });
    const closed = recorder.close().then(() => 'closed' as const);
    expect(await Promise.race([closed, took])).toBe('closed');
    expect(store.entries).toHaveLength(1);
  });
});

describe('a move that died between its decision and the DLQ entry', () => {
  // The repeat (the next sweep) follows the decision (won: false), adds the entry, and said
  // nothing: the job's history and metrics never had its dead-lettering.
  it('is said dead-lettered once, by the move that adds the entry', async () => {
    const worker = actor('worker');
    const id = randomUUID();
    await worker.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: id } }]);
    const failed = await failNext(worker, id);
    // The first move decided, then its process died.
    expect(
      await worker.stores.jobs.decide(id, 'dead-lettered', 'a-move-that-died', { op: undefined, reason: 'boom' }),
    ).toMatchObject({
      won: true,
    });
    const said: string[] = [];
    const sweeper = actor('sweeper');
    sweeper.lifecycle.onTransition((t) => {
      if ('jobId' in t && t.jobId === id) said.push(t.type);
    });
    expect(await sweeper.lifecycle.settleFailed(failed, noEffect)).toBe('dead-lettered');
    expect(await sweeper.queues.deadLetter.getJob(id)).toBeDefined();
    expect(said).toContain('dead-lettered');
  });
});
