// A delivery that loses the decision applies nothing and ends without error: it records no failed
// attempt (no log line, no history), and what happens to its BullMQ job depends on who holds it.
// Each order is driven by gates in the write path or a handler, with a real BullMQ worker running
// the real processor: no sleeps.

import { randomUUID } from 'node:crypto';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { deadLetterLog } from '../../board/dead-letter-adapter.js';
import type { DeadLetterData } from '../../shared/lifecycle/dead-letter.js';
import { historyOf } from '../../shared/lifecycle/history-of.js';
import type { Transition } from '../../shared/lifecycle/job-lifecycle.js';
import { attemptsOf } from '../../shared/operator/job-timeline.js';
import type { Stores } from '../../shared/store/types.js';
import type { JobSystem } from '../../shared/wiring.js';
import { FlowControl } from '../../worker/flow-control.js';
import { type Handlers, makeHandlers } from '../../worker/handlers.js';
import { makeProcessor } from '../../worker/processor.js';
import { isStaleAck } from '../../worker/worker-service.js';
import { activate, failNext, gate, useRaceActors } from '../helpers/interleave.js';
import { marksOf, moveOf, notDeadLettered, pausedBeforeLink, updateJobOfNewUser } from '../helpers/outcomes.js';
import { silentLogger } from '../helpers/pipeline.js';
import { deleteKeys } from '../helpers/stack.js';

const { actor, resources } = useRaceActors();

/** What one real BullMQ worker did with the one delivery it ran. */
interface Run {
  /** The delivery's token, once it started. */
  started: Promise<{ job: Job; token: string }>;
  /** The processor's own end: what it returned, or threw. */
  ended: Promise<{ returned?: unknown; threw?: Error }>;
  /** BullMQ's 'failed' events and its 'error' events (a failed ack). */
  failed: string[];
  errors: string[];
  /** BullMQ's first 'error' event (rejects after 10 s: every wait has a deadline). */
  firstError: Promise<string>;
  close(): Promise<void>;
}

/**
 * While its delivery waits, the job's lock expires and the stalled check fails it for good
 * (MAX_STALLED_COUNT); a move settles it. Then the delivery wakes (`wake`) and must end quietly:
 * it returns, BullMQ's ack of it is refused (the job is gone, the lock never its again), no 'failed'.
 */
async function stalledMovedThenWoken(worker: JobSystem, run: Run, id: string, wake: () => void): Promise<void> {
  const { job, token } = await run.started;
  await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), token, false);
  expect(await moveOf(worker)(id)).toBe('dead-lettered');
  wake();
  expect(await run.ended).toEqual({ returned: undefined });
  expect(isStaleAck(await run.firstError)).toBe(true);
  await run.close(); // BullMQ has finished with the delivery
  expect(run.failed).toEqual([]);
}

/** A real worker with the real processor (flow control off) over `handlers`. */
function runWorker(system: JobSystem, handlers: Handlers): Run {
  const flow = FlowControl.fromConfig(
    { ...system.config, FLOW_CONTROL: false },
    system.queues.operations.opts.connection as never,
    system.keys,
    silentLogger,
  );
  const processor = makeProcessor(handlers, system.lifecycle, flow);
  let start!: (v: { job: Job; token: string }) => void;
  let end!: (v: { returned?: unknown; threw?: Error }) => void;
  const started = new Promise<{ job: Job; token: string }>((r) => {
    start = r;
  });
  const ended = new Promise<{ returned?: unknown; threw?: Error }>((r) => {
    end = r;
  });
  const run = { started, ended, failed: [] as string[], errors: [] as string[] };
  const worker = new Worker(
    system.keys.operations,
    async (job: Job, token?: string) => {
      start({ job, token: token as string });
      try {
        const returned = await processor(job, token);
        end({ returned });
        return returned;
      } catch (error) {
        end({ threw: error as Error });
        throw error;
      }
    },
    {
      connection: system.queues.operations.opts.connection,
      prefix: system.keys.prefix,
      lockDuration: 60_000,
      stalledInterval: 60_000,
    },
  );
  worker.on('failed', (_job, error) => run.failed.push(error.message));
  let erred!: (message: string) => void;
  const firstError = new Promise<string>((resolve, reject) => {
    erred = resolve;
    setTimeout(() => reject(new Error('BullMQ reported no error within 10 s')), 10_000).unref();
  });
  firstError.catch(() => undefined); // awaited only where a test expects one
  worker.on('error', (error) => {
    run.errors.push(error.message);
    erred(error.message);
  });
  return { ...run, firstError, close: () => worker.close() };
}

function transitionsOf(system: JobSystem, id: string): Transition[] {
  const seen: Transition[] = [];
  system.lifecycle.onTransition((t) => {
    if ('jobId' in t && t.jobId === id) seen.push(t);
  });
  return seen;
}

const handlersOver = (stores: Stores, commands = pausedBeforeLink(stores)) => ({
  handlers: makeHandlers(stores.users, commands.commands),
  gate: commands.gate,
});

const types = (seen: Transition[]) => seen.map((t) => t.type);

describe('a stale delivery that loses the decision', () => {
  it('barred after its job stalled and was dead-lettered: ends quietly, BullMQ counts nothing', async () => {
    const worker = actor('worker');
    const { id, userId } = await updateJobOfNewUser(worker);
    const said = transitionsOf(worker, id);
    const { handlers, gate: link } = handlersOver(resources().stores);
    const run = runWorker(worker, handlers);
    await link.reached;
    // The delivery wakes after the move: its link loses to the bar.
    await stalledMovedThenWoken(worker, run, id, () => link.release());
    expect(run.errors.filter((m) => !isStaleAck(m))).toEqual([]);
    expect((await resources().stores.users.getHead(userId))?.version).toBe(1);
    expect(await marksOf(worker, id)).toEqual(['dead-lettered']);
    expect(await worker.queues.operations.getJob(id)).toBeUndefined();
    const entry = (await worker.queues.deadLetter.getJob(id))?.data as DeadLetterData;
    // One attempt: the stall. The barred delivery wrote no line of its own.
    expect(entry.attempts.map((a) => a.errorClass)).toEqual(['Stalled']);
    expect(types(said)).not.toContain('attempt-failed');
    expect(said.find((t) => t.type === 'lock-lost')).toMatchObject({ reason: 'barred', stale: true });
  });

  it('decided otherwise while it ran (a job with no effect): ends quietly', async () => {
    const worker = actor('worker');
    const id = randomUUID();
    await worker.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: id } }]);
    const said = transitionsOf(worker, id);
    const held = gate();
    const base = makeHandlers(resources().stores.users, pausedBeforeLink(resources().stores).commands);
    const run = runWorker(worker, {
      ...base,
      'get-user': async (p, jobId) => {
        await held.wait();
        return base['get-user'](p, jobId);
      },
    });
    await held.reached;
    await stalledMovedThenWoken(worker, run, id, () => held.release());
    expect(await marksOf(worker, id)).toEqual(['dead-lettered']);
    expect(types(said).filter((t) => t === 'attempt-failed' || t === 'completed')).toEqual([]);
    expect(said.find((t) => t.type === 'lock-lost')).toMatchObject({ reason: 'decided-otherwise', stale: true });
  });
});

describe('a current delivery that loses the decision', () => {
  // A move paused on an instance from before Redis lost the queue; `djq recover` re-added the job
  // (same generation) and a worker took it; the move wakes, bars and decides dead-lettered, and
  // finds another instance in Redis ('gone'). The delivery that holds the job is barred.
  it('fails its job, uncounted, and the dead-letter move follows the decision once', async () => {
    const worker = actor('worker');
    const { id, job: accepted } = await updateJobOfNewUser(worker);
    await failNext(worker, id);
    const paused = gate();
    const moving = moveOf(worker, paused.wait)(id);
    await paused.reached;
    await deleteKeys(resources().redis, worker.keys.everyKeyPattern);
    expect(await actor('djq').lifecycle.restoreAccepted(accepted, notDeadLettered)).toBe('job');
    const said = transitionsOf(worker, id);
    const { handlers, gate: link } = handlersOver(resources().stores);
    const run = runWorker(worker, handlers);
    await run.started;
    await link.reached;
    paused.release();
    expect(await moving).toBe('gone');
    expect(await marksOf(worker, id)).toEqual(['dead-lettered']);
    link.release();
    const ended = await run.ended;
    expect(ended.threw).toBeInstanceOf(UnrecoverableError);
    expect(ended.threw?.message).toMatch(/^lost the decision: /);
    await run.close();
    // BullMQ failed the job (it must not stay active); the move a worker's failed listener runs follows.
    expect(run.failed).toHaveLength(1);
    expect(await moveOf(worker)(id)).toBe('dead-lettered');
    expect(await worker.queues.operations.getJob(id)).toBeUndefined();
    const entry = (await worker.queues.deadLetter.getJob(id))?.data as DeadLetterData;
    expect(entry.attempts).toEqual([]); // the barred delivery is not an attempt
    expect(types(said).filter((t) => t === 'attempt-failed' || t === 'dead-lettered')).toEqual(['dead-lettered']);
    expect(said.find((t) => t.type === 'lock-lost')).toMatchObject({ reason: 'barred', stale: false });
    expect(await marksOf(worker, id)).toEqual(['dead-lettered']);
  });
});

describe("a job's log lines name their writer", () => {
  const failure = (errorClass: string, final: boolean) => ({
    attempt: 1,
    maxAttempts: 5,
    durationMs: 1,
    errorClass,
    kind: final ? 'final' : 'network',
    message: `${errorClass} happened`,
    retryable: !final,
    final,
    capacityUnits: 0,
  });

  // Delivery 1's lock expires and the stalled check puts the job back; delivery 2 takes it. Then
  // delivery 1's attempt fails (a slow call returns): its line must not land in the job's log, where
  // delivery 2's failure and then the DLQ entry would collect it as an attempt.
  it("drops a stale delivery's line; the DLQ entry and the timeline show who wrote each attempt", async () => {
    const first = actor('worker-1');
    const second = actor('worker-2');
    const id = randomUUID();
    await first.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: id } }]);
    const said = transitionsOf(first, id);
    const saidBySecond = transitionsOf(second, id);
    const stale = await activate(first, id);
    first.lifecycle.attemptStarted(stale.job);
    await stale.job.moveToWait(stale.token); // what the stalled check does with a job under MAX_STALLED_COUNT
    const current = await activate(second, id);
    second.lifecycle.attemptStarted(current.job);
    await first.lifecycle.attemptFailed(stale.job, failure('TimeoutError', false), stale.token);
    await second.lifecycle.attemptFailed(current.job, failure('UserDeletedError', true), current.token);
    await current.job.moveToFailed(new UnrecoverableError('UserDeletedError happened'), current.token, false);
    expect(await moveOf(second)(id)).toBe('dead-lettered');

    const entry = (await second.queues.deadLetter.getJob(id))?.data as DeadLetterData;
    expect(entry.attempts).toEqual([
      expect.objectContaining({
        errorClass: 'UserDeletedError',
        worker: 'worker-2',
        delivery: current.token.slice(0, 8),
      }),
    ]);
    expect(deadLetterLog(entry).join('\n')).toContain(`by worker-2/${current.token.slice(0, 8)}`);
    // The history keeps the stale failure, marked: the timeline shows it but counts one failed attempt.
    expect(said.find((t) => t.type === 'attempt-failed')).toMatchObject({ stale: true });
    const entries = [...said, ...saidBySecond].sort((a, b) => a.at.localeCompare(b.at)).flatMap(historyOf);
    const attempts = attemptsOf(entries);
    expect(attempts.filter((a) => a.outcome === 'failed').map((a) => a.errorClass)).toEqual(['UserDeletedError']);
  });
});
