// Bulk DLQ actions kept in Redis (shard 0's keys, queueKeys().dlqAction…), so an action that stops
// half-way (Ctrl-C, a board restart, a cancel, a crash) can be listed and resumed: its plan (each
// job with the generation the dry run saw dead-lettered), its status, and what it did to each job.
// Exactly-once does not rest on this record: a planned job is acted on only while its dead-lettered
// generation is the plan's, checked under the job's lock (transition.ts, deadLetteredGeneration).
// The record lets a resumed run skip what is settled, and the lease keeps two runners apart.
import { randomUUID } from 'node:crypto';
import type { QueueKeys } from '../lifecycle/keys.js';
import type { RedisConnection } from '../runtime/redis.js';
import { luaScript, withLuaScripts } from '../runtime/redis-scripts.js';
import type { PlannedOutcome } from './dlq-console.js';

/** Kept a week after its last change: long enough to resume after a weekend. */
export const DLQ_ACTION_TTL_SECONDS = 7 * 24 * 3600;
/** A runner's lease lives this long unless renewed (every third of it while the runner runs). */
export const DLQ_ACTION_LEASE_MS = 30_000;
/** Actions listed at most (newest first). */
const LIST_LIMIT = 50;

/** One job of a plan: the generation its DLQ entry stood for when planned (none without a record). */
export interface PlannedJob {
  jobId: string;
  gen?: number;
}

/** Everything filterable about DLQ entries: see dlq-bulk.ts. */
export interface DlqWhere {
  /** Text in the reason, case-insensitive. */
  reason?: string;
  /** The error class of the last attempt (exact, case-insensitive). */
  errorClass?: string;
  /** Text in the reason, or in any attempt's error class or message (as the search's error filter). */
  error?: string;
  op?: string;
  /** A user the job touches (its DynamoDB record's payload, as the search's user filter). */
  user?: string;
  /** The dead-lettered generation (1 until the first redrive), from DynamoDB's job record. */
  gen?: number;
  /** Dead-lettered at or after / at or before (ISO). */
  from?: string;
  to?: string;
  jobIds?: readonly string[];
}

export interface StoredPlan {
  action: 'redrive' | 'purge';
  where: DlqWhere;
  jobs: PlannedJob[];
  /** Who started it (recorded in every job's marks by the transition, as the process's actor). */
  by: string;
  createdAt: string;
  ratePerSecond: number;
}

/** What the action's runs did to one job. `busy` is retried by a resume; the others are settled. */
export type JobProgress = 'done' | 'not-found' | 'moved-on' | `busy:${string}`;

/** `interrupted`: marked running, but no process holds its lease (it died, or the board restarted). */
export type DlqActionStatus = 'running' | 'interrupted' | 'cancelled' | 'finished' | 'failed';

export interface DlqActionRecord {
  id: string;
  plan: StoredPlan;
  status: DlqActionStatus;
  progress: Map<string, JobProgress>;
  error?: string;
  updatedAt: string;
}

export class DlqActionNotFoundError extends Error {
  override name = 'DlqActionNotFoundError';
  constructor(readonly actionId: string) {
    super(
      `no DLQ action ${actionId} (unknown, or expired ${DLQ_ACTION_TTL_SECONDS / 86400} days after its last change)`,
    );
  }
}

/** A runner paused past its lease (SIGSTOP, a stalled host) found another process running its action. */
export class DlqActionLeaseLostError extends Error {
  override name = 'DlqActionLeaseLostError';
  constructor(readonly actionId: string) {
    super(
      `DLQ action ${actionId}: this run lost its lease (paused longer than ${DLQ_ACTION_LEASE_MS / 1000} s) and stopped; another process may be running it`,
    );
  }
}

export class DlqActionRunningError extends Error {
  override name = 'DlqActionRunningError';
  constructor(readonly actionId: string) {
    super(`DLQ action ${actionId} is running in another process now: cancel it there, or wait`);
  }
}

export function progressOf(outcome: PlannedOutcome): JobProgress {
  return typeof outcome === 'string' ? outcome : `busy:${outcome.busy}`;
}

export const isSettled = (p: JobProgress | undefined) => p !== undefined && !p.startsWith('busy:');

const RECORD = luaScript('djqDlqActionRecord', 3, new URL('./dlq-action-record.lua', import.meta.url));
const END_LEASE = luaScript('djqDlqActionEnd', 2, new URL('./dlq-action-end.lua', import.meta.url));
const RENEW_LEASE = luaScript('djqLeaseRenew', 1, new URL('../runtime/lease-renew.lua', import.meta.url));

type WithActionScripts = RedisConnection & {
  djqDlqActionRecord(...keysAndArgs: (string | number)[]): Promise<[number, number]>;
  djqDlqActionEnd(...keysAndArgs: (string | number)[]): Promise<number>;
  djqLeaseRenew(lease: string, token: string, ttlMs: number): Promise<number>;
};

export class DlqActionStore {
  private readonly redis: WithActionScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: Pick<QueueKeys, 'dlqActions' | 'dlqAction' | 'dlqActionProgress' | 'dlqActionLease'>,
  ) {
    this.redis = withLuaScripts<WithActionScripts>(redis, RECORD, END_LEASE, RENEW_LEASE);
  }

  async create(plan: StoredPlan): Promise<string> {
    const id = randomUUID();
    const now = Date.now();
    await this.redis
      .multi()
      .hset(this.keys.dlqAction(id), {
        plan: JSON.stringify(plan),
        status: 'running',
        updatedAt: new Date(now).toISOString(),
      })
      .expire(this.keys.dlqAction(id), DLQ_ACTION_TTL_SECONDS)
      .zadd(this.keys.dlqActions, now, id)
      .zremrangebyscore(this.keys.dlqActions, 0, now - DLQ_ACTION_TTL_SECONDS * 1000)
      .expire(this.keys.dlqActions, DLQ_ACTION_TTL_SECONDS)
      .exec();
    return id;
  }

  async get(id: string): Promise<DlqActionRecord | undefined> {
    const [action, progress, lease] = await Promise.all([
      this.redis.hgetall(this.keys.dlqAction(id)),
      this.redis.hgetall(this.keys.dlqActionProgress(id)),
      this.redis.exists(this.keys.dlqActionLease(id)),
    ]);
    if (!action.plan) return undefined;
    const stored = action.status as DlqActionStatus;
    return {
      id,
      plan: JSON.parse(action.plan) as StoredPlan,
      status: stored === 'running' && lease === 0 ? 'interrupted' : stored,
      progress: new Map(Object.entries(progress) as [string, JobProgress][]),
      ...(action.error ? { error: action.error } : {}),
      updatedAt: action.updatedAt ?? '',
    };
  }

  /** The newest actions first (those expired are dropped from the list). */
  async list(limit = LIST_LIMIT): Promise<DlqActionRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.dlqActions, 0, limit - 1);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records.filter((r) => r !== undefined);
  }

  /**
   * Records what happened to one job for the runner holding `lease`; answers whether a cancel was
   * asked for meanwhile (from any process) and whether the lease is still this runner's. A settled
   * result is never overwritten: a runner paused past its lease may come back with a stale `busy`
   * for a job the resume that took over has done.
   */
  async record(
    id: string,
    jobId: string,
    progress: JobProgress,
    lease: Pick<DlqActionLease, 'token'>,
  ): Promise<{ cancelRequested: boolean; leaseLost: boolean }> {
    const [cancelRequested, leaseHeld] = await this.redis.djqDlqActionRecord(
      this.keys.dlqActionProgress(id),
      this.keys.dlqAction(id),
      this.keys.dlqActionLease(id),
      jobId,
      progress,
      new Date().toISOString(),
      DLQ_ACTION_TTL_SECONDS,
      lease.token,
    );
    return { cancelRequested: cancelRequested === 1, leaseLost: leaseHeld !== 1 };
  }

  /** A run starts (under the lease): running, any earlier cancel request and error cleared. */
  async markRunning(id: string): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.dlqAction(id), { status: 'running', updatedAt: new Date().toISOString() })
      .hdel(this.keys.dlqAction(id), 'cancelRequested', 'error')
      .expire(this.keys.dlqAction(id), DLQ_ACTION_TTL_SECONDS)
      .exec();
  }

  /** Asks the runner, wherever it runs, to stop before its next job. False when there is no such action. */
  async requestCancel(id: string): Promise<boolean> {
    if (!(await this.redis.exists(this.keys.dlqAction(id)))) return false;
    await this.redis.hset(this.keys.dlqAction(id), 'cancelRequested', '1');
    return true;
  }

  /**
   * Takes the action's lease, renewed until it is ended; undefined when another process holds it.
   * Two runners would only duplicate reads, never a redrive (each job's generation check); one
   * paused past its lease learns it lost it at its next record and stops.
   */
  async acquireLease(id: string): Promise<DlqActionLease | undefined> {
    const lease = this.keys.dlqActionLease(id);
    const token = randomUUID();
    if ((await this.redis.set(lease, token, 'PX', DLQ_ACTION_LEASE_MS, 'NX')) !== 'OK') return undefined;
    // Renewed only while it is still this runner's: a runner paused past its lease must not keep
    // alive the lease of the resume that took over (record tells the paused one it lost it).
    const renew = setInterval(() => {
      this.redis.djqLeaseRenew(lease, token, DLQ_ACTION_LEASE_MS).catch(() => undefined);
    }, DLQ_ACTION_LEASE_MS / 3);
    renew.unref();
    return {
      token,
      end: async (status, error) => {
        clearInterval(renew);
        // One step: whoever sees the final status can resume at once (the lease is gone with it).
        await this.redis.djqDlqActionEnd(
          lease,
          this.keys.dlqAction(id),
          token,
          status,
          new Date().toISOString(),
          error ?? '',
          DLQ_ACTION_TTL_SECONDS,
        );
      },
    };
  }
}

/** A runner's hold on an action: `end` writes its final status and lets go, in one step. */
export interface DlqActionLease {
  /** This runner's own: the lease is this runner's while the key holds it. */
  token: string;
  end(status: 'finished' | 'cancelled' | 'failed', error?: string): Promise<void>;
}
