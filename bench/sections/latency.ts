// 5. Latency: the producer (ledger, then addBulk) at a fixed offered rate into the full project
// on dynalite; enqueue→completion per job is BullMQ's finishedOn − timestamp. Beside it, where the
// tail comes from: each job's wait in the queue (processedOn − timestamp) apart from its processing
// (finishedOn − processedOn), for all jobs and for the slowest 1%; the DynamoDB calls' own latency;
// each job's own time (enqueue→completion less the time it waited on DynamoDB: its attempt's calls,
// as the worker reports them, and its decision); and this process's event-loop delay and GC pauses
// over the measured window.
import { Redis } from 'ioredis';
import type { LatencyFigures } from '../../charts/bench.js';
import { Producer } from '../../producer/producer.js';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import type { JobLifecycle } from '../../shared/lifecycle/job-lifecycle.js';
import { createDynamoStores } from '../../shared/store/index.js';
import type { Stores } from '../../shared/store/types.js';
import { openJobSystem } from '../../shared/wiring.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { progress } from '../report.js';
import { type RuntimeStats, watchRuntime } from '../runtime-stats.js';
import { type BenchServices, devNullLogger, dropPrefix, percentile, round, runConfigWithTable } from '../support.js';
import { StepTimes, timeAcks, timeAttempts, timedStores } from '../timing.js';
import { benchGenerator, seedUsers } from '../workload.js';

/** The figures the charts read (charts/bench.ts), and what only the bench's tables show. */
export interface LatencyResult extends LatencyFigures {
  achievedPerSec: number;
  /** Median wait in the queue and median processing, of all measured jobs and of the slowest 1%. */
  split?: { all: WaitAndWork; slowest1pct: WaitAndWork };
  /**
   * Enqueue→completion less the job's time waiting on DynamoDB (its completed attempt's calls and
   * its decision): the project's own time, queue and Redis included (issue 24's target: p99 ≤ 10 ms).
   */
  ownMs?: { p50: number; p99: number; max: number; dynamoP50: number; dynamoP99: number };
  /** Every DynamoDB call of the window (SDK retries included): p50, p99, max in ms. */
  dynamoCallMs?: { p50: number; p99: number; max: number; calls: number };
  /** The worker's (this process's) event loop and GC over the measured window. */
  runtime?: RuntimeStats;
}

export interface WaitAndWork {
  jobs: number;
  waitMs: number;
  processingMs: number;
}

function waitAndWork(jobs: readonly { waitMs: number; processingMs: number }[]): WaitAndWork {
  const med = (values: number[]) =>
    percentile(
      values.sort((a, b) => a - b),
      50,
    );
  return {
    jobs: jobs.length,
    waitMs: med(jobs.map((j) => j.waitMs)),
    processingMs: med(jobs.map((j) => j.processingMs)),
  };
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

/** The producer ticks every 10 ms; rate/100 jobs per tick. */
const TICK_MS = 10;

export async function latency(
  services: BenchServices,
  options: { perSec: number; seconds: number; warmupSeconds: number },
): Promise<LatencyResult> {
  const { config } = await runConfigWithTable(services, 'latency');
  const metrics = new WorkerMetrics();
  const callMs: number[] = [];
  let measuring = false;
  const dynamo = createDynamoClients(config, (call) => {
    metrics.dynamoCall(call);
    if (measuring) callMs.push(call.durationMs);
  });
  const stores = createDynamoStores(dynamo, config);
  const seeded = await seedUsers(stores);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const logger = devNullLogger();
  const times = new StepTimes();
  const untimeAcks = timeAcks(times);
  const inDynamo = new DynamoTimePerJob();
  const service = startWorkerService({
    config,
    stores: inDynamo.timingDecisions(timedStores(stores, times)),
    redis,
    logger,
    metrics,
  });
  timeAttempts(service.system.lifecycle, times);
  inDynamo.timeAttempts(service.system.lifecycle);

  const total = Math.round(options.perSec * (options.seconds + options.warmupSeconds));
  const measureFrom = Date.now() + options.warmupSeconds * 1000;
  const samples: number[] = [];
  const jobs: { totalMs: number; waitMs: number; processingMs: number; dynamoMs: number }[] = [];
  let finished = 0;
  const allDone = new Promise<void>((resolve) => {
    service.worker.on('completed', (job) => {
      finished += 1;
      if (job.timestamp >= measureFrom && job.finishedOn) {
        samples.push(job.finishedOn - job.timestamp);
        const processedOn = job.processedOn ?? job.timestamp;
        jobs.push({
          totalMs: job.finishedOn - job.timestamp,
          waitMs: processedOn - job.timestamp,
          processingMs: job.finishedOn - processedOn,
          dynamoMs: inDynamo.of(String(job.id)),
        });
      }
      if (finished % 100 === 0) progress('latency', `${finished}/${total} at ${options.perSec} jobs/s`);
      if (finished >= total) resolve();
    });
  });
  const producerRedis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const producerSide = openJobSystem({ config, redis: producerRedis, stores, logger, actor: 'producer' });
  const producer = new Producer({
    lifecycle: producerSide.lifecycle,
    generator: benchGenerator(config, seeded),
    intervalMs: TICK_MS,
    perTick: Math.max(1, Math.round((options.perSec * TICK_MS) / 1000)),
    maxOperations: total,
    logger,
  });
  const runtime = watchRuntime();
  const warmedUp = setTimeout(() => {
    runtime.reset();
    measuring = true;
  }, measureFrom - Date.now());
  const started = Date.now();
  await producer.run();
  const producedIn = (Date.now() - started) / 1000;
  await allDone;
  clearTimeout(warmedUp);
  const runtimeStats = runtime.stop();
  measuring = false;
  await service.close();
  untimeAcks();
  await producerSide.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  producerRedis.disconnect();
  dynamo.close();

  samples.sort((a, b) => a - b);
  jobs.sort((a, b) => a.totalMs - b.totalMs);
  callMs.sort((a, b) => a - b);
  const ms = (v: number) => round(v, 1);
  const sorted = (values: number[]) => values.sort((a, b) => a - b);
  const own = sorted(jobs.map((j) => Math.max(0, j.totalMs - j.dynamoMs)));
  const dynamoPerJob = sorted(jobs.map((j) => j.dynamoMs));
  return {
    offeredPerSec: options.perSec,
    seconds: options.seconds,
    measuredJobs: samples.length,
    achievedPerSec: round(total / producedIn, 1),
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    max: samples.at(-1) ?? Number.NaN,
    percentilesMs: Object.fromEntries([
      ...[10, 25, 50, 75, 90, 95, 99, 99.9].map((p) => [`p${p}`, percentile(samples, p)]),
      ['max', samples.at(-1) ?? Number.NaN],
    ]),
    stepsMsPerJob: times.perJob(total),
    split: {
      all: waitAndWork(jobs),
      slowest1pct: waitAndWork(jobs.slice(Math.floor(jobs.length * 0.99))),
    },
    ownMs: {
      p50: ms(percentile(own, 50)),
      p99: ms(percentile(own, 99)),
      max: ms(own.at(-1) ?? Number.NaN),
      dynamoP50: ms(percentile(dynamoPerJob, 50)),
      dynamoP99: ms(percentile(dynamoPerJob, 99)),
    },
    dynamoCallMs: {
      p50: ms(percentile(callMs, 50)),
      p99: ms(percentile(callMs, 99)),
      max: ms(callMs.at(-1) ?? Number.NaN),
      calls: callMs.length,
    },
    runtime: runtimeStats,
  };
}
