// Assembles one worker process: the BullMQ Worker, its processor, the dead-letter mover and sweep,
// and a graceful shutdown that lets in-flight jobs finish within SHUTDOWN_TIMEOUT_MS.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { DeadLetters } from '../shared/lifecycle/dead-letter.js';
import { type HistoryRecorder, startHistoryRecorder } from '../shared/lifecycle/history.js';
import { Ledger } from '../shared/lifecycle/ledger.js';
import { openQueues, operationJobOptions } from '../shared/lifecycle/queues.js';
import type { Config } from '../shared/runtime/config.js';
import type { Logger } from '../shared/runtime/logger.js';
import { retryTransient } from '../shared/runtime/retry.js';
import type { Stores } from '../shared/store/types.js';
import { makeHandlers, writeTargets } from './handlers.js';
import type { WorkerMetrics } from './metrics.js';
import { parseJob } from './payload.js';
import { type JobStep, makeProcessor } from './processor.js';
import { UserCommands } from './user-commands.js';

export interface WorkerServiceDeps {
  config: Config;
  stores: Stores;
  /** A connection with maxRetriesPerRequest: null; the worker duplicates it for blocking calls. */
  redis: Redis;
  logger: Logger;
  metrics?: WorkerMetrics;
  /** Per-step timing for the benchmark (see makeProcessor); absent in production. */
  onStep?: (step: JobStep, ms: number) => void;
}

export interface WorkerService {
  worker: Worker;
  deadLetters: DeadLetters;
  history: HistoryRecorder;
  workerId: string;
  /** Stops taking jobs, waits for in-flight ones up to the timeout, flushes history. Resolves true if drained. */
  close(timeoutMs?: number): Promise<boolean>;
}

/** WORKER_ID, or host-pid: unique per process on any number of machines. */
export function workerIdOf(config: Pick<Config, 'WORKER_ID'>): string {
  return config.WORKER_ID ?? `${hostname()}-${process.pid}`;
}

export function startWorkerService(deps: WorkerServiceDeps): WorkerService {
  const { config, stores, redis, logger, metrics, onStep } = deps;
  const workerId = workerIdOf(config);
  const queues = openQueues(config, redis);
  const ledger = new Ledger(redis, config.QUEUE_PREFIX, config.QUEUE_NAME, config.LEDGER_MAX_ENTRIES);
  const history = startHistoryRecorder(config, stores.history, logger);
  const commands = new UserCommands({ events: stores.events, users: stores.users });
  const handlers = makeHandlers(stores.users, commands);

  /** A write job whose event landed before it failed (e.g. stalled after appending) is settled as completed. */
  const settleApplied = async (job: Job): Promise<boolean> => {
    let targets: string[];
    try {
      const parsed = parseJob(job.name, job.data);
      targets = writeTargets(parsed.name, parsed.payload);
    } catch {
      return false; // poison: nothing can have been applied
    }
    if (targets.length === 0) return false;
    // The same DynamoDB trouble that failed the job may hit this check: each call is retried briefly.
    const applied = await Promise.all(
      targets.map(async (id) => {
        // Linked means the projection shows it too: the projection row is the stream's head.
        return retryTransient(() => commands.hasApplied(String(job.id), id));
      }),
    );
    return applied.every(Boolean);
  };

  const deadLetters = new DeadLetters({
    queues,
    ledger,
    history,
    workerId,
    settleApplied,
    redriveOptions: operationJobOptions(config),
  });

  const moveToDeadLetter = async (job: Job) => {
    const outcome = await deadLetters.moveFailedJob(job);
    if (outcome === 'dead-lettered') metrics?.job(job.name, 'dead-lettered');
    logger.info(
      { jobId: job.id, op: job.name, outcome },
      `job ${job.id} ${outcome === 'completed' ? 'had landed: settled as completed' : 'moved to the dead-letter queue'}`,
    );
  };

  const worker = new Worker(
    queues.operations.name,
    makeProcessor({ handlers, ledger, history, logger, metrics, workerId, ...(onStep ? { onStep } : {}) }),
    {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.LOCK_DURATION_MS,
      stalledInterval: config.STALLED_INTERVAL_MS,
      maxStalledCount: config.MAX_STALLED_COUNT,
      name: workerId,
    },
  );

  worker.on('failed', (job) => {
    if (!job) return;
    // 'failed' fires on every failed attempt; only a job in the failed set has failed for good.
    void job
      .getState()
      .then((state) => (state === 'failed' ? moveToDeadLetter(job) : undefined))
      .catch((error: unknown) =>
        logger.warn({ err: error, jobId: job.id }, 'dead-letter move failed; the sweep will retry'),
      );
  });
  worker.on('error', (error) => logger.error({ err: error }, 'worker error'));
  worker.on('stalled', (jobId) =>
    logger.warn({ jobId }, 'job stalled (its worker died or blocked); it will run again'),
  );

  let sweeping = false;
  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      const moved = await deadLetters.sweep((jobId, error) =>
        logger.warn({ jobId, err: (error as Error).message }, 'dead-letter move failed; next sweep retries'),
      );
      if (moved > 0) logger.info({ moved }, 'dead-letter sweep moved failed jobs');
    } catch (error) {
      logger.warn({ err: error }, 'dead-letter sweep failed; will try again');
    } finally {
      sweeping = false;
    }
  };
  void sweep();
  const sweepTimer = setInterval(() => void sweep(), config.DLQ_SWEEP_INTERVAL_MS);
  sweepTimer.unref();

  return {
    worker,
    deadLetters,
    history,
    workerId,
    async close(timeoutMs = config.SHUTDOWN_TIMEOUT_MS) {
      clearInterval(sweepTimer);
      const closing = worker.close();
      // The timer is cancelled once drained, so a closed service does not hold the event loop open.
      const timer = new AbortController();
      const drained = await Promise.race([
        closing.then(() => true),
        sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false),
      ]);
      timer.abort();
      if (!drained) {
        // Past the timeout: abandon the rest; their locks expire and another worker runs them again.
        logger.warn({ timeoutMs }, 'in-flight jobs did not finish in time; forcing close');
        await worker.close(true);
      }
      await history.close();
      await queues.close();
      return drained;
    },
  };
}
