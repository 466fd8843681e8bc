// Assembles one worker process: the BullMQ Worker and its processor, the settler (dead-letter
// moves, and the sweep while this worker holds the shard's sweep lease), and a shutdown bounded by
// SHUTDOWN_TIMEOUT_MS as a whole. With a sharded queue, one of each per shard consumed
// (WORKER_SHARDS, or all), sharing the process's history buffer.
import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import { EffectBars } from '../shared/lifecycle/effect-bars.js';
import { type HistoryRecorder, startHistoryRecorder } from '../shared/lifecycle/history.js';
import { RedisHistorySpill } from '../shared/lifecycle/history-spill.js';
import { queueKeys } from '../shared/lifecycle/keys.js';
import { MinuteSeriesRecorder } from '../shared/lifecycle/minute-series.js';
import { logTransitions } from '../shared/lifecycle/transition-log.js';
import type { Config } from '../shared/runtime/config.js';
import { withDeadline } from '../shared/runtime/deadline.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { RedisConnection } from '../shared/runtime/redis.js';
import type { Stores } from '../shared/store/types.js';
import { tracing } from '../shared/telemetry/tracing.js';
import { type JobSystem, openJobSystem } from '../shared/wiring.js';
import { ElectedSweep, LEASE_ROUNDS } from './elected-sweep.js';
import { FlowControl } from './flow-control.js';
import { type Handlers, makeHandlers } from './handlers.js';
import type { WorkerMetrics } from './metrics.js';
import { makeProcessor } from './processor.js';
import { recoverRedis } from './recover-redis.js';
import { RedisChangeWatch, singleFlight } from './redis-change.js';
import { Settler } from './settler.js';
import { Standby } from './standby.js';
import { SweepLease } from './sweep-lease.js';
import { UserCommands } from './user-commands.js';
import { listenForWakes, type WakeListener } from './wake-listener.js';

export interface WorkerServiceDeps {
  config: Config;
  stores: Stores;
  /** A connection with maxRetriesPerRequest: null; the worker duplicates it for blocking calls. */
  redis: RedisConnection;
  logger: Logger;
  metrics: WorkerMetrics;
}

/** Minutes of BullMQ's own per-minute counts kept (completed, failed): the console's day. */
export const BULLMQ_METRICS_MINUTES = 1440;

export interface WorkerService {
  /** The first shard's (the only one's, unless QUEUE_SHARDS > 1): what most callers need. */
  worker: Worker;
  system: JobSystem;
  settler: Settler;
  /** One per shard consumed, in shard order. */
  shards: {
    shard: number;
    worker: Worker;
    system: JobSystem;
    settler: Settler;
    flow: FlowControl;
    /** The shard's periodic sweep, which runs only while this worker holds the shard's lease. */
    sweep: ElectedSweep;
    /** Stops fetching while idle and not the shard's watcher (WORKER_STANDBY_AFTER_MS). */
    standby: Standby;
    /** Recovers what a failover or restart of the shard's Redis dropped (RECOVER_ON_REDIS_CHANGE); none when off. */
    redisChange?: RedisChangeWatch;
  }[];
  workerId: string;
  /**
   * Stops taking jobs, waits for in-flight ones, flushes history; all within `timeoutMs`. Resolves
   * true if everything finished in time. Past the deadline the rest is abandoned: the jobs' locks
   * expire and another worker runs them again (idempotently).
   */
  close(timeoutMs?: number): Promise<boolean>;
}

/** WORKER_ID, or host-pid: unique per process on any number of machines. */
export function workerIdOf(config: Pick<Config, 'WORKER_ID'>): string {
  return config.WORKER_ID ?? `${hostname()}-${process.pid}`;
}

/** The shards a worker consumes: WORKER_SHARDS, or every shard. */
export function consumedShards(config: Pick<Config, 'QUEUE_SHARDS' | 'WORKER_SHARDS'>): number[] {
  return config.WORKER_SHARDS ?? Array.from({ length: config.QUEUE_SHARDS }, (_, i) => i);
}

/** One consumed shard's parts. */
type ShardService = WorkerService['shards'][number];

/** What every shard of one process shares. */
interface ProcessParts {
  workerId: string;
  history: HistoryRecorder;
  handlers: Handlers;
  effects: EffectBars;
  series: MinuteSeriesRecorder;
  /** Each shard's queue depth for the console's series (undefined: another worker samples it), registered as the shard starts. */
  depthCounters: Map<number, () => Promise<number | undefined>>;
  /** The process's one subscription to new-work signals, once every shard has started (none if standby is off). */
  wakes?: WakeListener;
  /** What `djq recover` does, one run at a time for all the process's shards. */
  recover: () => Promise<boolean>;
  /** Stops a recovery running (at close): it gives no epoch back, and no watch records it. */
  stopRecovery: AbortController;
}

function startProcessParts({ config, stores, redis, logger }: WorkerServiceDeps): ProcessParts {
  const workerId = workerIdOf(config);
  const stopRecovery = new AbortController();
  // One spill per process (shard 0's key): the history of every shard it runs waits there alike.
  const history = startHistoryRecorder(
    config,
    stores.history,
    logger,
    new RedisHistorySpill(redis, queueKeys(config, 0).historySpill),
  );
  const commands = new UserCommands({ events: stores.events, users: stores.users, records: stores.jobs });
  const depthCounters = new Map<number, () => Promise<number | undefined>>();
  const depthOf = (shard: number) => depthCounters.get(shard)?.() ?? Promise.resolve(undefined);
  // The console's charts: what BullMQ's metrics do not count, per minute, in shard 0's keys.
  const series = new MinuteSeriesRecorder(redis, queueKeys(config, 0), {
    depth: consumedShards(config).map((shard) => ({ shard, count: () => depthOf(shard) })),
    onError: (error) => logger.debug({ err: error }, 'console minute series not written (Redis unavailable?)'),
  });
  return {
    workerId,
    stopRecovery,
    recover: singleFlight(() =>
      recoverRedis({ config, stores, redis, logger, actor: workerId, signal: stopRecovery.signal }),
    ),
    history,
    handlers: makeHandlers(stores.users, commands),
    effects: new EffectBars(stores),
    series,
    depthCounters,
  };
}

/** What one shard's BullMQ Worker runs and reports to. */
interface WorkerParts {
  shard: number;
  system: JobSystem;
  settler: Settler;
  flow: FlowControl;
}

/** The shard's BullMQ Worker running the processor, with its failures handed to the settler. */
function startBullWorker(deps: WorkerServiceDeps, parts: ProcessParts, { shard, system, settler, flow }: WorkerParts) {
  const { config, redis, logger } = deps;
  const { keys, lifecycle } = system;
  // bullmq-otel when tracing is on (OTEL_*): BullMQ's spans, and the trace context read from each job.
  const telemetry = tracing().bullmq;
  const worker = new Worker(keys.operations, makeProcessor(parts.handlers, lifecycle, flow), {
    ...(telemetry ? { telemetry } : {}),
    connection: redis,
    prefix: keys.prefix,
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.LOCK_DURATION_MS,
    stalledInterval: config.STALLED_INTERVAL_MS,
    maxStalledCount: config.MAX_STALLED_COUNT,
    name: parts.workerId,
    metrics: { maxDataPoints: BULLMQ_METRICS_MINUTES },
  });
  worker.on('failed', settler.onFailed);
  worker.on('error', (error) => logWorkerError(logger, error, shard));
  worker.on('stalled', (jobId) =>
    logger.warn({ jobId, shard }, 'job stalled (its worker died or blocked); it will run again'),
  );
  return worker;
}

/** The shard's periodic sweep, run only while this worker holds the shard's sweep lease. */
function startSweep(
  { config, redis, logger }: WorkerServiceDeps,
  workerId: string,
  { shard, system, settler }: WorkerParts,
) {
  // One sweeper per shard in the whole fleet: its Redis load stays the same however many workers run.
  const lease = new SweepLease(redis, system.keys.sweepLease, workerId, LEASE_ROUNDS * config.DLQ_SWEEP_INTERVAL_MS);
  const sweep = new ElectedSweep({
    settler,
    lease,
    logger: logger.child({ shard }),
    intervalMs: config.DLQ_SWEEP_INTERVAL_MS,
  });
  sweep.start();
  return sweep;
}

/** One shard: its job system with every subscriber on its lifecycle, flow control, worker and sweep. */
function startShard(deps: WorkerServiceDeps, parts: ProcessParts, shard: number): ShardService {
  const { config, stores, redis, logger, metrics } = deps;
  const { workerId, history, effects, series } = parts;
  const system = openJobSystem({ config, redis, stores, logger, actor: workerId, shard, history });
  const { lifecycle, queues, keys } = system;
  logTransitions(lifecycle, logger);
  metrics.observe(lifecycle);
  series.observe(lifecycle);
  const settler = new Settler({ queues, lifecycle, effects, logger });
  // Each shard is its own queue with its own rate: each converges on its share of the table.
  const flow = FlowControl.fromConfig(config, redis, keys, logger.child({ shard }));
  flow.start();
  const worker = startBullWorker(deps, parts, { shard, system, settler, flow });
  const sweep = startSweep(deps, workerId, { shard, system, settler, flow });
  parts.depthCounters.set(shard, async () => {
    // The same figure for every worker of the fleet: the shard's watcher alone samples it.
    if (!sweep.holds) return undefined;
    const counts = await queues.operations.getJobCounts('wait', 'prioritized', 'delayed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  });
  const standby = new Standby({
    worker,
    watching: () => sweep.holds,
    wake: system.wake,
    reachable: () => parts.wakes?.listening === true,
    afterMs: config.WORKER_STANDBY_AFTER_MS,
    logger: logger.child({ shard }),
  });
  standby.start();
  const redisChange = watchRedisChange(deps, parts, sweep, system);
  return { shard, worker, system, settler, flow, sweep, standby, redisChange };
}

/** The shard's watcher recovers what a failover or a restart of its Redis dropped. */
function watchRedisChange(
  { config, redis, logger }: WorkerServiceDeps,
  parts: ProcessParts,
  sweep: ElectedSweep,
  system: JobSystem,
) {
  if (!config.RECOVER_ON_REDIS_CHANGE) return undefined;
  const watch = new RedisChangeWatch({
    redis,
    keys: system.keys,
    watching: () => sweep.holds,
    recover: parts.recover,
    redisLost: async () => (await system.checkEpoch()).state === 'redis-lost',
    logger: logger.child({ shard: system.keys.shard }),
    intervalMs: config.DLQ_SWEEP_INTERVAL_MS,
  });
  watch.start();
  return watch;
}

/** One subscriber for the whole process, waking each shard's standby on its channel. */
function listenForShardWakes(
  { config, redis, logger }: WorkerServiceDeps,
  workerId: string,
  shards: readonly ShardService[],
) {
  if (config.WORKER_STANDBY_AFTER_MS === 0) return undefined;
  const wakes = new Map(shards.map((s) => [s.system.keys.wakeChannel, (why: string) => void s.standby.wake(why)]));
  return listenForWakes(redis, wakes, logger, workerId);
}

/** WorkerService.close: flow, sweeps, workers, series, then history, all under one deadline. */
async function closeShards(
  { config, logger }: WorkerServiceDeps,
  parts: ProcessParts & { stopSeriesDynamo: () => void },
  shards: readonly ShardService[],
  timeoutMs = config.SHUTDOWN_TIMEOUT_MS,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  parts.stopRecovery.abort();
  for (const s of shards) s.flow.close();
  await withDeadline(
    Promise.all(shards.map((s) => Promise.all([s.standby.close(), s.redisChange?.close()]))),
    deadline,
  );
  await parts.wakes?.close(deadline);
  // The watchers among them stop fetching: the workers standing by fetch until one of them takes
  // the lease (at its next round), or a due retry would wait for that round unfetched.
  const watched = shards.filter((s) => s.sweep.holds);
  // First, so another worker sweeps at its next round rather than after the lease expires.
  await withDeadline(Promise.all(shards.map((s) => s.sweep.close())), deadline);
  for (const s of watched) s.system.wake.signal();
  // BullMQ's close() has no timeout, and a later close(true) forces nothing (it returns the
  // first call's promise): the deadline is ours.
  const drained = await withDeadline(Promise.all(shards.map((s) => s.worker.close())), deadline);
  if (!drained) logger.warn({ timeoutMs }, 'in-flight jobs did not finish in time; abandoning them');
  parts.stopSeriesDynamo();
  await withDeadline(parts.series.close(), deadline);
  const flushed = await withDeadline(
    (async () => {
      await parts.history.close();
      await Promise.all(shards.map((s) => s.system.close()));
    })(),
    deadline,
  );
  if (!flushed) logger.warn('job history not flushed before the deadline');
  return drained && flushed;
}

export function startWorkerService(deps: WorkerServiceDeps): WorkerService {
  const parts = startProcessParts(deps);
  const stopSeriesDynamo = deps.metrics.onDynamoCall(parts.series.dynamoCall);
  const shards = consumedShards(deps.config).map((shard) => startShard(deps, parts, shard));
  const first = shards[0];
  if (!first) throw new Error('a worker needs at least one shard to consume');
  parts.wakes = listenForShardWakes(deps, parts.workerId, shards);
  deps.metrics.observeShards(shards);
  parts.series.start();
  return {
    worker: first.worker,
    system: first.system,
    settler: first.settler,
    shards,
    workerId: parts.workerId,
    close: (timeoutMs) => closeShards(deps, { ...parts, stopSeriesDynamo }, shards, timeoutMs),
  };
}

/**
 * BullMQ's ack of a delivery that lost its lock fails its token check (a stale delivery that lost
 * the decision returns; processor.ts): expected after a stall, and it changed nothing in Redis.
 */
const STALE_ACK = /^(Missing lock|Lock mismatch|Missing key) for job \S+\. (Cmd )?moveTo/;

/** Whether a BullMQ worker error is the refused ack of a delivery that lost its lock. */
export const isStaleAck = (message: string): boolean => STALE_ACK.test(message);

function logWorkerError(logger: Logger, error: Error, shard: number): void {
  if (isStaleAck(error.message))
    logger.info(
      { err: error.message, shard },
      'a delivery that lost its lock could not acknowledge its job: nothing changed',
    );
  else logger.error({ err: error, shard }, 'worker error');
}
