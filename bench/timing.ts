// The per-step breakdown of a job: store calls timed by wrapping the stores (read, append, project,
// history flush), the attempt itself from the lifecycle's `completed` transition (validation and
// handler), and BullMQ's acknowledgement
// (moveToCompleted, which also fetches the next job) by wrapping Job.prototype, for the timed run only.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Job } from 'bullmq';
import type { JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import type { Stores } from '../shared/store/types.js';
import { KeyedMutex } from '../worker/keyed-mutex.js';
import { UserCommands } from '../worker/user-commands.js';

export type Step = 'handler' | 'read' | 'append' | 'project' | 'history-flush' | 'ack' | 'decide';

/** Subscribes to the lifecycle: the production path carries no timing code. */
export function timeAttempts(lifecycle: JobLifecycle, times: StepTimes): () => void {
  return lifecycle.onTransition((t) => {
    if (t.type === 'completed') times.add('handler', t.durationMs);
  });
}

export class StepTimes {
  readonly totalMs = new Map<Step, number>();
  readonly calls = new Map<Step, number>();

  add = (step: Step, ms: number): void => {
    this.totalMs.set(step, (this.totalMs.get(step) ?? 0) + ms);
    this.calls.set(step, (this.calls.get(step) ?? 0) + 1);
  };

  async time<T>(step: Step, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.add(step, performance.now() - started);
    }
  }

  /** Mean ms per job of each step (a job with two reads counts both). */
  perJob(jobs: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [step, ms] of this.totalMs) out[step] = Math.round((ms / jobs) * 1000) / 1000;
    return out;
  }
}

export function timedStores(stores: Stores, times: StepTimes): Stores {
  const { events, users, history, table, jobs } = stores;
  return {
    events: {
      getByJob: (userId, jobId) => times.time('read', () => events.getByJob(userId, jobId)),
      put: (event) => times.time('append', () => events.put(event)),
      rewrite: (event, from) => times.time('append', () => events.rewrite(event, from)),
      discard: (userId, jobId, version) => times.time('append', () => events.discard(userId, jobId, version)),
      // Flags go out beside the append (same round trip), so they count as part of it.
      markLinked: (userId, jobId, version) => times.time('append', () => events.markLinked(userId, jobId, version)),
      listUser: (userId) => events.listUser(userId),
      scanAll: () => events.scanAll(),
      count: () => events.count(),
    },
    users: {
      getUser: (userId) => times.time('read', () => users.getUser(userId)),
      getHead: (userId) => times.time('read', () => users.getHead(userId)),
      readForWrite: (userId) => times.time('read', () => users.readForWrite(userId)),
      bar: (userId, jobId, generation) => users.bar(userId, jobId, generation),
      unbar: (userId, jobId) => users.unbar(userId, jobId),
      queryByDepartment: (department, limit) => times.time('read', () => users.queryByDepartment(department, limit)),
      link: (head, from, bars) => times.time('project', () => users.link(head, from, bars)),
      overwrite: (userId, state) => users.overwrite(userId, state),
      scanAll: () => users.scanAll(),
      count: () => users.count(),
    },
    history: {
      write: (entries) => times.time('history-flush', () => history.write(entries)),
      list: (jobId) => history.list(jobId),
    },
    table,
    jobs: {
      accept: (accepted) => jobs.accept(accepted),
      decide: (jobId, outcome, by, context) => times.time('decide', () => jobs.decide(jobId, outcome, by, context)),
      reopen: (jobId, by, startedAt) => jobs.reopen(jobId, by, startedAt),
      purge: (jobId, by) => jobs.purge(jobId, by),
      get: (jobId) => jobs.get(jobId),
      getMany: (jobIds) => jobs.getMany(jobIds),
      queryJobs: (query) => jobs.queryJobs(query),
      scanAll: () => jobs.scanAll(),
      readEpoch: (queue) => jobs.readEpoch(queue),
      initEpoch: (queue, epoch) => jobs.initEpoch(queue, epoch),
    },
  };
}

/** Times BullMQ's acknowledgement until the returned function is called. */
export function timeAcks(times: StepTimes): () => void {
  const original = Job.prototype.moveToCompleted;
  Job.prototype.moveToCompleted = function (this: Job, ...args: Parameters<Job['moveToCompleted']>) {
    return times.time('ack', () => original.apply(this, args));
  };
  return () => {
    Job.prototype.moveToCompleted = original;
  };
}

/** Waits for a user's turn (KeyedMutex: writers on one user in a process queue behind each other). */
export interface MutexWaits {
  /** Turns taken, and how many of them waited 1 ms or more for an earlier writer. */
  runs: number;
  waited1ms: number;
  p99Ms: number;
  maxMs: number;
}

/** The job a user command runs for, so a turn's wait is charged to it. */
const commandJob = new AsyncLocalStorage<string>();

/**
 * Times each KeyedMutex turn's wait (call to start) and sums it per job (the user commands' jobId)
 * until `stop` is called.
 */
export function timeMutexWaits(): { ofJob(jobId: string): number; stop(): MutexWaits } {
  const run = KeyedMutex.prototype.run;
  const commands = {
    create: UserCommands.prototype.create,
    update: UserCommands.prototype.update,
    del: UserCommands.prototype.delete,
  };
  const waits: number[] = [];
  const perJob = new Map<string, number>();
  KeyedMutex.prototype.run = function <T>(this: KeyedMutex, key: string, fn: () => Promise<T>): Promise<T> {
    const called = performance.now();
    const jobId = commandJob.getStore();
    return run.call<KeyedMutex, [string, () => Promise<T>], Promise<T>>(this, key, () => {
      const waited = performance.now() - called;
      waits.push(waited);
      if (jobId !== undefined) perJob.set(jobId, (perJob.get(jobId) ?? 0) + waited);
      return fn();
    });
  };
  UserCommands.prototype.create = function (this: UserCommands, jobId, ...rest) {
    return commandJob.run(jobId, () => commands.create.call(this, jobId, ...rest));
  };
  UserCommands.prototype.update = function (this: UserCommands, jobId, ...rest) {
    return commandJob.run(jobId, () => commands.update.call(this, jobId, ...rest));
  };
  UserCommands.prototype.delete = function (this: UserCommands, jobId, ...rest) {
    return commandJob.run(jobId, () => commands.del.call(this, jobId, ...rest));
  };
  return {
    ofJob: (jobId) => perJob.get(jobId) ?? 0,
    stop() {
      KeyedMutex.prototype.run = run;
      UserCommands.prototype.create = commands.create;
      UserCommands.prototype.update = commands.update;
      UserCommands.prototype.delete = commands.del;
      waits.sort((a, b) => a - b);
      const ms = (v: number | undefined) => Math.round((v ?? 0) * 10) / 10;
      return {
        runs: waits.length,
        waited1ms: waits.filter((w) => w >= 1).length,
        p99Ms: ms(waits[Math.min(waits.length - 1, Math.floor(waits.length * 0.99))]),
        maxMs: ms(waits.at(-1)),
      };
    },
  };
}
