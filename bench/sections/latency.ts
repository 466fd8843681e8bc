// 5. Latency: the producer (ledger, then addBulk) at a fixed offered rate into the full project
// on dynalite; enqueue→completion per job is BullMQ's finishedOn − timestamp. Beside it, where the
// tail comes from: each job's wait in the queue (processedOn − timestamp) apart from its processing
// (finishedOn − processedOn), for all jobs and for the slowest 1%; the DynamoDB calls' own latency;
// each job's own time (enqueue→completion less the time it waited on DynamoDB: its attempt's calls,
// as the worker reports them, and its decision); and the worker process's event-loop delay and GC
// pauses over the measured window. The worker (bench/latency-worker.ts) runs in a child of its own,
// as deployed; `--latency-worker=in-process` puts it back in this process beside the producer and
// the bench's bookkeeping (how the section ran before), to compare the two.
import { Redis } from 'ioredis';
import type { LatencyFigures } from '../../charts/bench.js';
import { Producer } from '../../producer/producer.js';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { openJobSystem } from '../../shared/wiring.js';
import { spawnLatencyWorker } from '../children.js';
import { startMeasuredWorker, type WorkerSideReport } from '../latency-worker.js';
import { progress } from '../report.js';
import { cpuSince, type ProcessCpu, type RuntimeStats, watchRuntime } from '../runtime-stats.js';
import {
  type BenchServices,
  devNullLogger,
  dropPrefix,
  percentile,
  round,
  type runConfig,
  runConfigWithTable,
} from '../support.js';
import type { MutexWaits } from '../timing.js';
import { benchGenerator, seedUsers } from '../workload.js';

/** The figures the charts read (charts/bench.ts), and what only the bench's tables show. */
export interface LatencyResult extends LatencyFigures {
  achievedPerSec: number;
  /** Jobs of the run that failed for good (an update racing its user's delete), not measured. */
  failedJobs?: number;
  /** Writers' waits for their user's turn in the worker (a hot user's queue), over the whole run. */
  mutexWaits?: MutexWaits;
  /** Median wait in the queue and median processing, of all measured jobs and of the slowest 1%. */
  split?: { all: WaitAndWork; slowest1pct: WaitAndWork };
  /**
   * Enqueue→completion less the job's time waiting on DynamoDB (its completed attempt's calls and
   * its decision): the project's own time, queue and Redis included (issue 24's target: p99 ≤ 10 ms).
   */
  ownMs?: {
    p50: number;
    p99: number;
    max: number;
    dynamoP50: number;
    dynamoP99: number;
    /** p99 of own time less the job's waits for its user's turn (behind another job's writes). */
    lessTurnWaitsP99?: number;
  };
  /** Every DynamoDB call of the window (SDK retries included): p50, p99, max in ms. */
  dynamoCallMs?: { p50: number; p99: number; max: number; calls: number };
  /** The measured worker's process: its event loop and GC over the measured window. */
  runtime?: RuntimeStats;
  /** Where the worker ran: a child of its own (newer results) or the bench's process (older ones). */
  placement?: WorkerPlacement;
  /** The bench's process (producer and bookkeeping; the worker too when in-process) over the window. */
  benchRuntime?: RuntimeStats;
  /** dynalite's process (the DynamoDB every call waits on) over the window. */
  dynalite?: ProcessCpu;
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

/** The producer ticks every 10 ms; rate/100 jobs per tick. */
const TICK_MS = 10;

/** Where the measured worker runs: alone in a child (as deployed) or in this process beside the producer. */
export type WorkerPlacement = 'child' | 'in-process';

interface PlacedWorker {
  ready: Promise<unknown>;
  measureFrom(epochMs: number): void;
  report: Promise<WorkerSideReport>;
  stop(): Promise<void>;
}

function placeWorker(
  placement: WorkerPlacement,
  run: ReturnType<typeof runConfig>,
  total: number,
  nodeArgs: readonly string[] = [],
): PlacedWorker {
  const onProgress = (finished: number) =>
    progress('latency', `${finished}/${total} (worker ${placement === 'child' ? 'in a child' : 'in-process'})`);
  if (placement === 'child') return spawnLatencyWorker(run.env, total, onProgress, nodeArgs);
  const worker = startMeasuredWorker(run.config, total, onProgress);
  return { ...worker, report: worker.done, stop: async () => {} };
}

export async function latency(
  services: BenchServices,
  options: {
    perSec: number;
    seconds: number;
    warmupSeconds: number;
    placement?: WorkerPlacement;
    /** Node flags for the child (e.g. --cpu-prof, to profile the measured worker). */
    workerNodeArgs?: readonly string[];
  },
): Promise<LatencyResult> {
  const placement = options.placement ?? 'child';
  const run = await runConfigWithTable(services, 'latency');
  const { config } = run;
  const dynamo = createDynamoClients(config);
  const stores = createDynamoStores(dynamo, config);
  const seeded = await seedUsers(stores);
  const total = Math.round(options.perSec * (options.seconds + options.warmupSeconds));
  const worker = placeWorker(placement, run, total, options.workerNodeArgs);
  const logger = devNullLogger();
  const producerRedis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const producerSide = openJobSystem({ config, redis: producerRedis, stores, logger, actor: 'producer' });
  try {
    await worker.ready;
    const producer = new Producer({
      lifecycle: producerSide.lifecycle,
      generator: benchGenerator(config, seeded),
      intervalMs: TICK_MS,
      perTick: Math.max(1, Math.round((options.perSec * TICK_MS) / 1000)),
      maxOperations: total,
      logger,
    });
    const bench = watchRuntime();
    const measureFrom = Date.now() + options.warmupSeconds * 1000;
    worker.measureFrom(measureFrom);
    const dynalitePid = services.dynalite.process.pid;
    let dynaliteCpu: ((wallMs: number) => ProcessCpu) | undefined;
    let windowStart = 0;
    const warmedUp = setTimeout(() => {
      bench.reset();
      windowStart = performance.now();
      if (dynalitePid) dynaliteCpu = cpuSince(dynalitePid);
    }, measureFrom - Date.now());
    const started = Date.now();
    await producer.run();
    const producedIn = (Date.now() - started) / 1000;
    const report = await worker.report;
    clearTimeout(warmedUp);
    const dynalite = dynaliteCpu?.(performance.now() - windowStart);
    const achievedPerSec = round(total / producedIn, 1);
    return figures(options, placement, { report, bench: bench.stop(), dynalite, achievedPerSec });
  } finally {
    await worker.stop();
    await producerSide.close();
    await dropPrefix(services.control, config.QUEUE_PREFIX);
    producerRedis.disconnect();
    dynamo.close();
  }
}

function figures(
  options: { perSec: number; seconds: number },
  placement: WorkerPlacement,
  measured: { report: WorkerSideReport; bench: RuntimeStats; dynalite?: ProcessCpu; achievedPerSec: number },
): LatencyResult {
  const { report } = measured;
  const ms = (v: number) => round(v, 1);
  const sorted = (values: number[]) => values.sort((a, b) => a - b);
  const jobs = [...report.jobs].sort((a, b) => a.totalMs - b.totalMs);
  const samples = jobs.map((j) => j.totalMs);
  const callMs = sorted([...report.callMs]);
  const own = sorted(jobs.map((j) => Math.max(0, j.totalMs - j.dynamoMs)));
  const ownLessTurns = sorted(jobs.map((j) => Math.max(0, j.totalMs - j.dynamoMs - j.turnWaitMs)));
  const dynamoPerJob = sorted(jobs.map((j) => j.dynamoMs));
  return {
    offeredPerSec: options.perSec,
    seconds: options.seconds,
    measuredJobs: samples.length,
    failedJobs: report.failedJobs,
    mutexWaits: report.mutexWaits,
    achievedPerSec: measured.achievedPerSec,
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    p99: percentile(samples, 99),
    max: samples.at(-1) ?? Number.NaN,
    percentilesMs: Object.fromEntries([
      ...[10, 25, 50, 75, 90, 95, 99, 99.9].map((p) => [`p${p}`, percentile(samples, p)]),
      ['max', samples.at(-1) ?? Number.NaN],
    ]),
    stepsMsPerJob: report.stepsMsPerJob,
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
      lessTurnWaitsP99: ms(percentile(ownLessTurns, 99)),
    },
    dynamoCallMs: {
      p50: ms(percentile(callMs, 50)),
      p99: ms(percentile(callMs, 99)),
      max: ms(callMs.at(-1) ?? Number.NaN),
      calls: callMs.length,
    },
    runtime: report.runtime,
    placement,
    benchRuntime: measured.bench,
    ...(measured.dynalite ? { dynalite: measured.dynalite } : {}),
  };
}
