// One wiring for every entry point (producer, worker, board, CLI, npm start, tests, bench, chaos):
// the queue's key names, both queues, the ledger, the job history and the job lifecycle, built
// from the config the same way everywhere, with no optional members. Callers bring the clients
// (Redis and the stores), because who owns a connection differs: a service, a test, a harness.

import { routingUser } from './domain/payload.js';
import { type FleetFlowView, readFleetFlow } from './flow/fleet-rate.js';
import { EffectBars } from './lifecycle/effect-bars.js';
import { beginRecovery, checkEpoch, type EpochState, restoreEpoch } from './lifecycle/epoch.js';
import { type HistoryRecorder, startHistoryRecorder } from './lifecycle/history.js';
import { recordHistory } from './lifecycle/history-of.js';
import { RedisHistorySpill } from './lifecycle/history-spill.js';
import { JobLifecycle } from './lifecycle/job-lifecycle.js';
import { crc16 } from './lifecycle/key-slot.js';
import { allShardKeys, type QueueKeys, queueKeys } from './lifecycle/keys.js';
import { Ledger, type LedgerJob } from './lifecycle/ledger.js';
import { openQueues, operationJobOptions, type Queues } from './lifecycle/queues.js';
import { TRANSITION_LOCK_WAIT_MS } from './lifecycle/transition-lock.js';
import { traceTransitions } from './lifecycle/transition-trace.js';
import { WakeSignal, wakeOnNewWork } from './lifecycle/wake-signal.js';
import { DlqConsole } from './operator/dlq-console.js';
import type { Config } from './runtime/config.js';
import type { Logger } from './runtime/logger.js';
import type { RedisConnection } from './runtime/redis.js';
import type { Stores } from './store/types.js';
import { tracing } from './telemetry/tracing.js';

export interface JobSystem {
  config: Config;
  keys: QueueKeys;
  queues: Queues;
  ledger: Ledger;
  /** This process's buffered job history (flushed by close(); tests flush it to read it back). */
  history: HistoryRecorder;
  lifecycle: JobLifecycle;
  /** The operator's DLQ actions (list, show, redrive, purge), shared by djq and the board. */
  console: DlqConsole;
  /** "New work on this shard" for workers standing by: sent on every enqueue, redrive and recovery. */
  wake: WakeSignal;
  stores: Stores;
  /** The fleet's flow control state for this shard (the job rate DynamoDB's throttling left). */
  readFlow(): Promise<FleetFlowView>;
  /** Whether this shard's Redis and the table belong together (creates the epoch on first start). */
  checkEpoch(): Promise<EpochState>;
  /** A recovery begins: marks this shard's Redis (the mark's token, for `restoreEpoch`). */
  beginRecovery(): Promise<string>;
  /**
   * After a recovery: gives this shard's Redis the table's epoch again, only if Redis still holds
   * the recovery's mark (else undefined: Redis lost its data while the recovery ran).
   */
  restoreEpoch(recovery: string): Promise<string | undefined>;
  /** Flushes the history and closes the queues; the caller closes its own Redis and DynamoDB clients. */
  close(): Promise<void>;
}

export interface JobSystemDeps {
  config: Config;
  /** A connection with maxRetriesPerRequest: null (BullMQ duplicates it for blocking calls). */
  redis: RedisConnection;
  stores: Stores;
  logger: Logger;
  /** Who acts, in history and logs: a worker id, 'producer', 'djq', 'board'. */
  actor: string;
  /** Which shard of the queue (0 to QUEUE_SHARDS-1). @default 0 */
  shard?: number;
  /** A history recorder to share (one per process is enough for all shards). @default a new one */
  history?: HistoryRecorder;
}

/** One shard of the queue (shard 0 when QUEUE_SHARDS=1): its queues, ledger, locks and lifecycle. */
export function openJobSystem(deps: JobSystemDeps): JobSystem {
  const { config, redis, stores, logger, actor } = deps;
  const keys = queueKeys(config, deps.shard ?? 0);
  const queues = openQueues(keys, redis);
  const ledger = new Ledger(redis, keys, config.LEDGER_MAX_ENTRIES);
  const ownHistory = deps.history === undefined;
  const history =
    deps.history ??
    startHistoryRecorder(config, stores.history, logger, new RedisHistorySpill(redis, keys.historySpill));
  const lifecycle = new JobLifecycle({
    redis,
    keys,
    queues,
    ledger,
    records: stores.jobs,
    effects: new EffectBars(stores),
    jobOptions: operationJobOptions(config),
    actor,
    lock: { ttlMs: config.TRANSITION_LOCK_MS, waitMs: TRANSITION_LOCK_WAIT_MS },
  });
  // The job's history is a subscriber of its transitions, as logs and metrics are.
  recordHistory(lifecycle, history);
  // Spans carry each transition's facts when tracing is on (OTEL_*); nothing subscribes when off.
  if (tracing().enabled) traceTransitions(lifecycle);
  const wake = new WakeSignal(redis, keys.wakeChannel, (error) =>
    logger.debug({ err: error }, 'new-work signal not sent; workers standing by wake at the next one'),
  );
  wakeOnNewWork(lifecycle, wake);
  return {
    config,
    keys,
    queues,
    ledger,
    history,
    lifecycle,
    console: new DlqConsole([{ queues, lifecycle }]),
    wake,
    stores,
    readFlow: () => readFleetFlow(redis, keys),
    checkEpoch: () => checkEpoch(redis, keys, stores.jobs),
    beginRecovery: () => beginRecovery(redis, keys),
    restoreEpoch: (recovery) => restoreEpoch(redis, keys, stores.jobs, recovery),
    async close() {
      if (ownHistory) await history.close();
      await queues.close();
    },
  };
}

/** Every shard of one logical queue, seen as one: what the producer, workers, djq and the board open. */
export interface ShardedJobSystem {
  config: Config;
  /** One JobSystem per shard, shard i at index i (one entry when QUEUE_SHARDS=1). */
  shards: JobSystem[];
  /** The shard a job goes to: by its user, so one user's jobs stay in order on one shard. */
  shardOf(job: Pick<LedgerJob, 'id' | 'name' | 'data'>): number;
  /** The DLQ console over every shard: list merges them, actions find the shard that holds the job. */
  console: DlqConsole;
  stores: Stores;
  history: HistoryRecorder;
  close(): Promise<void>;
}

/** The shard of a routing key (a user id, else a job id): CRC16, as Redis Cluster hashes keys. */
export function shardFor(key: string, shards: number): number {
  return shards <= 1 ? 0 : crc16(Buffer.from(key)) % shards;
}

export function openShardedSystem(deps: Omit<JobSystemDeps, 'shard' | 'history'>): ShardedJobSystem {
  const { config, stores, logger, redis } = deps;
  const spill = new RedisHistorySpill(redis, queueKeys(config, 0).historySpill);
  const history = startHistoryRecorder(config, stores.history, logger, spill);
  const shards = allShardKeys(config).map((keys) => openJobSystem({ ...deps, shard: keys.shard, history }));
  return {
    config,
    shards,
    shardOf: (job) => shardFor(routingUser(job.name, job.data) ?? job.id, shards.length),
    console: new DlqConsole(shards.map((s) => ({ queues: s.queues, lifecycle: s.lifecycle }))),
    stores,
    history,
    async close() {
      await history.close();
      await Promise.all(shards.map((s) => s.close()));
    },
  };
}

/** The read side alone (no DynamoDB, no actor): what `npm start`'s live summary reads. */
export function openQueueView(config: Config, redis: RedisConnection, shard = 0) {
  const keys = queueKeys(config, shard);
  const queues = openQueues(keys, redis);
  return {
    keys,
    queues,
    ledger: new Ledger(redis, keys, config.LEDGER_MAX_ENTRIES),
    readFlow: () => readFleetFlow(redis, keys),
    close: () => queues.close(),
  };
}
