// The latency section's measured worker: one worker service on dynalite with the bench's timing
// around it (steps, each job's DynamoDB time, every call's latency, this process's event loop and
// GC). The same code runs in the bench's process (placement 'in-process') or alone in a child
// (bench/latency-worker-child.ts, placement 'child', as a deployment runs a worker), so the two
// placements measure alike.
import { Redis } from 'ioredis';
import { createDynamoClients } from '../shared/dynamo/client.js';
import type { JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import type { Config } from '../shared/runtime/config.js';
import { createDynamoStores } from '../shared/store/index.js';
import type { Stores } from '../shared/store/types.js';
import { WorkerMetrics } from '../worker/metrics.js';
import { startWorkerService } from '../worker/worker-service.js';
import { type RuntimeStats, watchRuntime } from './runtime-stats.js';
import { devNullLogger } from './support.js';
import { type MutexWaits, StepTimes, timeAcks, timeAttempts, timedStores, timeMutexWaits } from './timing.js';

/** One measured job: enqueue→completion, its wait in the queue, its processing, its DynamoDB time (ms). */
export interface JobTimes {
  /** When it was enqueued (epoch ms: BullMQ's timestamp). */
  enqueuedAt: number;
  totalMs: number;
  waitMs: number;
  processingMs: number;
  dynamoMs: number;
  /** Its user commands' waits for their user's turn (behind another job's writes on the user). */
  turnWaitMs: number;
}

/** What the measured worker hands back once it has completed every job. */
export interface WorkerSideReport {
  /** Jobs enqueued at or after the measured window's start. */
  jobs: JobTimes[];
  /** Jobs of the run that failed for good instead (not in `jobs`). */
  failedJobs: number;
  /** Mean ms per job of each step, over every job of the run. */
  stepsMsPerJob: Record<string, number>;
  /** Every DynamoDB call's ms over the measured window (SDK retries included). */
  callMs: number[];
  /** Writers' waits for their user's turn, over the whole run. */
  mutexWaits: MutexWaits;
  /** The worker's process over the measured window. */
  runtime: RuntimeStats;
}

export interface MeasuredWorker {
  /** Resolves once the worker is connected and taking jobs. */
  ready: Promise<unknown>;
  /** Sets the measured window's start: jobs enqueued from then count, runtime stats restart then. */
  measureFrom(epochMs: number): void;
  /** Resolves once `total` jobs have completed, with the report; the worker is closed by then. */
  done: Promise<WorkerSideReport>;
}

/**
 * Each job's time waiting on DynamoDB: its completed attempt's calls (the worker's own tally, the
 * SDK's retries included) and its decision (the conditional write that completes it, timed here).
 */
class DynamoTimePerJob {
  private readonly ms = new Map<string, number>();

  of(jobId: string): number {
    return this.ms.get(jobId) ?? 0;
  }

  private add(jobId: string, ms: number): void {
    this.ms.set(jobId, this.of(jobId) + ms);
  }

  timeAttempts(lifecycle: JobLifecycle): void {
    lifecycle.onTransition((t) => {
      if (t.type === 'completed') this.add(t.jobId, t.dynamoMs);
    });
  }

  timingDecisions(stores: Stores): Stores {
    const { decide } = stores.jobs;
    const decideTimed: Stores['jobs']['decide'] = async (jobId, ...rest) => {
      const started = performance.now();
      try {
        return await decide(jobId, ...rest);
      } finally {
        this.add(jobId, performance.now() - started);
      }
    };
    return { ...stores, jobs: { ...stores.jobs, decide: decideTimed } };
  }
}

/** Starts the worker service on `config` and measures it until `total` jobs have completed. */
export function startMeasuredWorker(
  config: Config,
  total: number,
  onProgress: (finished: number) => void,
): MeasuredWorker {
  const metrics = new WorkerMetrics();
  const callMs: number[] = [];
  let measureFrom = Number.POSITIVE_INFINITY;
  const dynamo = createDynamoClients(config, (call) => {
    metrics.dynamoCall(call);
    if (Date.now() >= measureFrom) callMs.push(call.durationMs);
  });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const times = new StepTimes();
  const untimeAcks = timeAcks(times);
  const mutexWaits = timeMutexWaits();
  const inDynamo = new DynamoTimePerJob();
  const stores = inDynamo.timingDecisions(timedStores(createDynamoStores(dynamo, config), times));
  const service = startWorkerService({ config, stores, redis, logger: devNullLogger(), metrics });
  timeAttempts(service.system.lifecycle, times);
  inDynamo.timeAttempts(service.system.lifecycle);
  const runtime = watchRuntime();
  let warmedUp: NodeJS.Timeout | undefined;
  const jobs: JobTimes[] = [];
  // Settled: completed, or failed for good (an update racing its user's delete is dead-lettered):
  // waiting for `total` completions alone would wait for good.
  const settled = new Set<string>();
  const failed = new Set<string>();
  const allDone = new Promise<void>((resolve) => {
    const settle = (jobId: string) => {
      if (settled.has(jobId)) return;
      settled.add(jobId);
      if (settled.size % 100 === 0) onProgress(settled.size);
      if (settled.size >= total) resolve();
    };
    service.system.lifecycle.onTransition((t) => {
      if (t.type === 'attempt-failed' && t.final && !t.stale) {
        failed.add(t.jobId);
        settle(t.jobId);
      }
    });
    service.worker.on('completed', (job) => {
      if (job.timestamp >= measureFrom && job.finishedOn) {
        const processedOn = job.processedOn ?? job.timestamp;
        jobs.push({
          enqueuedAt: job.timestamp,
          totalMs: job.finishedOn - job.timestamp,
          waitMs: processedOn - job.timestamp,
          processingMs: job.finishedOn - processedOn,
          dynamoMs: inDynamo.of(String(job.id)),
          turnWaitMs: mutexWaits.ofJob(String(job.id)),
        });
      }
      settle(String(job.id));
    });
  });
  const done = allDone.then(async (): Promise<WorkerSideReport> => {
    clearTimeout(warmedUp);
    const runtimeStats = runtime.stop();
    measureFrom = Number.POSITIVE_INFINITY;
    await service.close();
    untimeAcks();
    const waits = mutexWaits.stop();
    redis.disconnect();
    dynamo.close();
    const stepsMsPerJob = times.perJob(total);
    return { jobs, failedJobs: failed.size, stepsMsPerJob, callMs, runtime: runtimeStats, mutexWaits: waits };
  });
  return {
    ready: service.worker.waitUntilReady(),
    measureFrom(epochMs) {
      measureFrom = epochMs;
      warmedUp = setTimeout(() => runtime.reset(), Math.max(0, epochMs - Date.now()));
    },
    done,
  };
}
