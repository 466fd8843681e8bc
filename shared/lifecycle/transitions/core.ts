// What every transition module works with: the lifecycle's dependencies, the per-job-id lock, the
// test pause points, the one emitter its subscribers listen to, and the Redis steps more than one
// transition takes (adding jobs, removing one instance of a job, dropping a stale DLQ entry).
import { EventEmitter } from 'node:events';
import type { Job, JobsOptions, Queue } from 'bullmq';
import type { RedisConnection } from '../../runtime/redis.js';
import { luaScript } from '../../runtime/redis-scripts.js';
import type { JobRecordStore } from '../../store/types.js';
import type { EffectBars } from '../effect-bars.js';
import type { QueueKeys } from '../keys.js';
import type { Ledger, LedgerJob } from '../ledger.js';
import type { Queues } from '../queues.js';
import { now, type Transition, type TransitionStep, type Unstamped } from '../transition.js';
import { type Fence, type TransitionLockOptions, withTransitionLock } from '../transition-lock.js';

const REMOVE_INSTANCE = luaScript('djqRemoveInstance', 10, new URL('../remove-instance.lua', import.meta.url));

/** BullMQ adds a bulk in one MULTI round trip; very large bulks are split. */
const ADD_BULK_CHUNK = 1000;

export interface JobLifecycleDeps {
  redis: RedisConnection;
  keys: QueueKeys;
  queues: Queues;
  ledger: Ledger;
  /** Where each job's outcome is decided, and its acceptance recorded. */
  records: JobRecordStore;
  /** Bars a dead-lettered job from its users; a redrive lifts them. */
  effects: EffectBars;
  /** The options every operation job is added with (attempts, backoff, retention). */
  jobOptions: JobsOptions;
  /** Who acts: a worker id, 'producer', 'djq', 'board'. Recorded in history and logs. */
  actor: string;
  lock: TransitionLockOptions;
}

export class LifecycleCore {
  private readonly events = new EventEmitter();
  /** Test-only pause points; a no-op in production. */
  probe: (step: TransitionStep, jobId: string) => Promise<void> | void = () => undefined;

  constructor(readonly deps: JobLifecycleDeps) {}

  get actor(): string {
    return this.deps.actor;
  }

  /** History, logs, metrics and traces subscribe here; a listener that throws never affects a job. */
  onTransition(listener: (transition: Transition) => void): () => void {
    const safe = (t: Transition) => {
      try {
        listener(t);
      } catch {
        // Bookkeeping must never decide a job's fate.
      }
    };
    this.events.on('transition', safe);
    return () => this.events.off('transition', safe);
  }

  /** `at`: the transition's own time when it has one already (one clock read per transition). */
  emit(transition: Unstamped, at = now()): void {
    this.events.emit('transition', { ...transition, actor: this.deps.actor, at });
  }

  /**
   * Runs `fn` under the job id's transition lock (the per-job-id rule, job-lifecycle.ts). Each Redis
   * write `fn` makes goes through `fence` (or follows a call of it): a holder paused past the lock's
   * lifetime writes nothing more.
   */
  locked<T>(jobId: string, fn: (fence: Fence) => Promise<T>): Promise<T> {
    const { redis, keys, lock } = this.deps;
    return withTransitionLock(redis, keys.transitionLock(jobId), fn, lock, () => void this.probe('lock:busy', jobId));
  }

  async addBulk(jobs: readonly LedgerJob[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += ADD_BULK_CHUNK) {
      await this.deps.queues.operations.addBulk(
        jobs.slice(i, i + ADD_BULK_CHUNK).map((job) => ({
          name: job.name,
          data: job.data,
          // The jobId is the idempotency key: a repeated add of a job that exists is a no-op.
          opts: { ...this.deps.jobOptions, jobId: job.id },
        })),
      );
    }
  }

  async heldInRedis(jobId: string): Promise<boolean> {
    const { queues } = this.deps;
    return Boolean((await queues.operations.getJob(jobId)) || (await queues.deadLetter.getJob(jobId)));
  }

  /**
   * Removes the instance `job` (that very one, if still there and not running) from its queue, in
   * the lock's own step: a failed or held instance of the operations queue, or a DLQ entry.
   * BullMQ's own `remove` cannot check our token, and a holder paused past its lock between a fence
   * and that call would remove whatever instance of the id is there by then.
   */
  async removeInstance(queue: Queue, job: Job, fence: Fence): Promise<void> {
    const jobKey = queue.toKey(String(job.id));
    const { active, wait, paused, delayed, prioritized, failed, completed } = queue.keys;
    const sets = [active, wait, paused, delayed, prioritized, failed, completed] as string[];
    await fence.run(REMOVE_INSTANCE, [jobKey, `${jobKey}:logs`, ...sets], String(job.id), job.timestamp);
  }

  /** Removes the failed instance `job` of the operations queue (removeInstance). */
  removeFailed(job: Job, fence: Fence): Promise<void> {
    return this.removeInstance(this.deps.queues.operations, job, fence);
  }

  /**
   * A DLQ entry DynamoDB contradicts (the job was decided completed, or purged): a cache write a
   * move paused past its lock may have left. Dropped; the operator's action finds nothing to do.
   */
  async dropStaleEntry(entry: Job, fence: Fence): Promise<'not-found'> {
    await this.removeInstance(this.deps.queues.deadLetter, entry, fence);
    return 'not-found';
  }
}
