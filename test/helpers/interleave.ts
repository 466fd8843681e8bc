// Drives two actors through a chosen interleaving: an actor pauses at a named lifecycle step until
// the test releases it, and the test learns when another actor is waiting on the job's lock. No
// sleeps: every ordering is forced by these gates.
import { randomUUID } from 'node:crypto';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { JobLifecycle, TransitionStep } from '../../shared/lifecycle/job-lifecycle.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import { type JobSystem, openJobSystem } from '../../shared/wiring.js';
import { silentLogger } from './pipeline.js';
import { deleteKeys, openTestResources, type TestResources, testEnv } from './stack.js';

export interface Gate {
  /** Resolves when the actor has reached the step (and is paused there). */
  reached: Promise<void>;
  release(): void;
}

/** A gate: `wait()` says it was reached and waits for `release()`; `reached` resolves on the first wait. */
export function gate(): Gate & { wait: () => Promise<void> } {
  let reached!: () => void;
  let release!: () => void;
  const reachedP = new Promise<void>((r) => {
    reached = r;
  });
  const released = new Promise<void>((r) => {
    release = r;
  });
  return {
    reached: reachedP,
    release,
    wait: async () => {
      reached();
      await released;
    },
  };
}

/** Pauses `lifecycle` the first time it reaches `step` (for any job, or for `jobId`). */
export function pauseAt(lifecycle: JobLifecycle, step: TransitionStep, jobId?: string): Gate {
  const g = gate();
  let armed = true;
  const previous = lifecycle.probe;
  lifecycle.probe = async (s, id) => {
    await previous(s, id);
    if (armed && s === step && (jobId === undefined || id === jobId)) {
      armed = false;
      await g.wait();
    }
  };
  return g;
}

/** Starts `run` and waits until `lifecycle` is paused at `step` for `jobId`; `release()` lets it go on. */
export async function pausedAt<T>(
  lifecycle: JobLifecycle,
  step: TransitionStep,
  jobId: string,
  run: () => Promise<T>,
): Promise<{ result: Promise<T>; release: () => void }> {
  const halfway = pauseAt(lifecycle, step, jobId);
  const result = run();
  await halfway.reached;
  return { result, release: halfway.release };
}

/** `worker`'s dead-letter move of `job`, paused half-way: after it added the DLQ entry. */
export function moveHalfway(worker: JobSystem, job: Job) {
  return pausedAt(worker.lifecycle, 'move:dead-letter-added', String(job.id), () =>
    worker.lifecycle.settleFailed(job, noEffect),
  );
}

/** Starts `run` and waits until `lifecycle` finds the job's transition lock held (by an actor paused with it). */
export async function waitingOnLock<T>(
  lifecycle: JobLifecycle,
  run: () => Promise<T>,
): Promise<{ result: Promise<T> }> {
  const waits = waitsForLock(lifecycle);
  const result = run();
  await waits;
  return { result };
}

/** Makes `lifecycle` die (throw) at `step`, as a process killed there would stop. */
export function crashAt(lifecycle: JobLifecycle, step: TransitionStep): void {
  const previous = lifecycle.probe;
  lifecycle.probe = async (s, id) => {
    await previous(s, id);
    if (s === step) throw new Error(`simulated crash at ${step}`);
  };
}

/** Resolves when `lifecycle` finds a job's transition lock held by someone else. */
export function waitsForLock(lifecycle: JobLifecycle): Promise<void> {
  return new Promise((resolve) => {
    const previous = lifecycle.probe;
    lifecycle.probe = async (s, id) => {
      await previous(s, id);
      if (s === 'lock:busy') resolve();
    };
  });
}

/**
 * A redrive of `id` stopped half-way with no intent left, as pause-past-lock found it: paused after
 * its add, its transition lock ran out and a sweep dropped its intent meanwhile; woken, it fails at
 * its next fence. The held instance and the DLQ entry stay.
 */
export async function redriveStoppedWithoutIntent(operator: JobSystem, redis: Redis, id: string): Promise<void> {
  const paused = pauseAt(operator.lifecycle, 'redrive:added', id);
  const redriving = operator.lifecycle.redrive(id);
  await paused.reached;
  await redis.del(operator.keys.transitionLock(id));
  await redis.hdel(operator.keys.redriveIntents, id);
  paused.release();
  await expect(redriving).rejects.toThrow(/expired while its transition was half-way/);
}

/**
 * A job that failed for good, made by BullMQ itself: added with one attempt, taken by a real
 * worker (manual fetch) and failed with its token.
 */
export async function failedJob(system: JobSystem, data: unknown = { userId: randomUUID() }): Promise<Job> {
  const id = randomUUID();
  await system.lifecycle.enqueue([{ id, name: 'get-user', data }]);
  return failNext(system, id);
}

/** Takes the next waiting job (which must be `id`) and fails it for good. */
export async function failNext(system: JobSystem, id: string): Promise<Job> {
  const job = await activate(system, id);
  system.lifecycle.attemptStarted(job.job);
  await job.job.moveToFailed(new UnrecoverableError('boom: failed for good'), job.token, false);
  const failed = await system.queues.operations.getJob(id);
  if (!failed || (await failed.getState()) !== 'failed') throw new Error(`job ${id} did not fail`);
  return failed;
}

/** A get-user job enqueued (no effect to find: its user need not exist); its id. */
export async function enqueueGetUser(system: JobSystem): Promise<string> {
  const id = randomUUID();
  await system.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: id } }]);
  return id;
}

/** A get-user job enqueued and taken by a delivery, as a worker would: its id, the job and the delivery's token. */
export async function deliveredGetUser(system: JobSystem) {
  const id = await enqueueGetUser(system);
  return { id, ...(await activate(system, id)) };
}

/** Moves the next waiting job (which must be `id`) to active, as a worker would, and returns it with its token. */
export async function activate(system: JobSystem, id: string): Promise<{ job: Job; token: string; worker: Worker }> {
  const worker = new Worker(system.keys.operations, undefined, {
    connection: system.queues.operations.opts.connection,
    prefix: system.keys.prefix,
    autorun: false,
  });
  // Both its connections ready before we use and close it: a close racing the blocking connection's
  // start-up rejects that connection's pending commands ("Connection is closed").
  await worker.waitUntilReady();
  const token = randomUUID();
  const job = (await worker.getNextJob(token, { block: false })) as Job | undefined;
  await worker.close();
  if (!job || job.id !== id) throw new Error(`expected job ${id} next, got ${job?.id ?? 'nothing'}`);
  return { job, token, worker };
}

export const noEffect = async () => ({ applied: false, landed: [], missing: [] });

/**
 * The setup of a file of interleaving tests: each test its own queue prefix (so one test's jobs
 * are never another's "next job"), and actors, each with its own Redis connection and wiring as a
 * separate process would have, closed after the test.
 */
export function useRaceActors() {
  let resources: TestResources | undefined;
  let env = testEnv();
  const opened: { system: JobSystem; redis: Redis }[] = [];
  const open = () => {
    if (!resources) throw new Error('useRaceActors: resources are opened in beforeAll');
    return resources;
  };

  beforeAll(async () => {
    resources = await openTestResources(env.config);
  });
  beforeEach(() => {
    env = testEnv({ DYNAMODB_TABLE_NAME: env.config.DYNAMODB_TABLE_NAME });
  });
  afterEach(async () => {
    for (const { system, redis } of opened.splice(0)) {
      await system.close();
      redis.disconnect();
    }
    await deleteKeys(open().redis, queueKeys(env.config).everyKeyPattern);
  });
  afterAll(async () => {
    await resources?.cleanup();
  });

  /** One actor: its own connection and wiring, like a separate process. */
  const actor = (name: string): JobSystem => {
    const redis = new Redis(env.config.REDIS_URL, { maxRetriesPerRequest: null });
    const system = openJobSystem({
      config: env.config,
      redis,
      stores: open().stores,
      logger: silentLogger,
      actor: name,
    });
    opened.push({ system, redis });
    return system;
  };

  return {
    resources: open,
    actor,
    /**
     * The cast most races start from: actors `worker` and `operator`, and a job that failed for good
     * on the worker (`failedJob`); with `deadLettered`, the worker's failed listener has already
     * moved it to the DLQ.
     */
    async workerAndOperator(options: { deadLettered?: boolean } = {}) {
      const worker = actor('worker');
      const operator = actor('operator');
      const job = await failedJob(worker);
      const id = String(job.id);
      if (options.deadLettered) {
        const settled = await worker.lifecycle.settleFailed(job, noEffect);
        if (settled !== 'dead-lettered') throw new Error(`job ${id} was ${settled}, not dead-lettered`);
      }
      return { worker, operator, job, id };
    },
  };
}

/**
 * Where a job id is now: its operations-queue state ('missing' if none), whether the DLQ holds it,
 * and its outcome: what DynamoDB decided for its generation, else (a redrive opened a generation
 * still running) the ledger's latest entry, `redriven`.
 */
export async function whereIs(system: JobSystem, id: string) {
  const job = await system.queues.operations.getJob(id);
  const decided = (await new DecidedOutcomes(system.stores.jobs).of([id])).get(id)?.outcome;
  return {
    operations: job ? await job.getState() : 'missing',
    deadLettered: Boolean(await system.queues.deadLetter.getJob(id)),
    outcome: decided ?? (await system.ledger.readOutcomes()).get(id),
  };
}

/** What a get-user attempt reports when it completes (the job's own work is not the point here). */
export const completedAttempt = (userId: string) => ({
  attempt: 1,
  durationMs: 1,
  capacityUnits: 0,
  dynamoCalls: 1,
  dynamoMs: 1,
  result: { op: 'get-user' as const, userId, found: false },
});
