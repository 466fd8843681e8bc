// 5. Latency: the producer (ledger, then addBulk) at a fixed offered rate into the full project
// on dynalite; enqueue→completion per job is BullMQ's finishedOn − timestamp.
import { Redis } from 'ioredis';
import { Producer } from '../../producer/producer.js';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { openJobSystem } from '../../shared/wiring.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { progress } from '../report.js';
import {
  type BenchServices,
  createTable,
  devNullLogger,
  dropPrefix,
  percentile,
  round,
  runConfig,
} from '../support.js';
import { StepTimes, timeAcks, timeAttempts, timedStores } from '../timing.js';
import { benchGenerator, seedUsers } from '../workload.js';

export interface LatencyResult {
  offeredPerSec: number;
  seconds: number;
  measuredJobs: number;
  achievedPerSec: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** The distribution for the chart: enqueue→completion ms at p10…p99.9 and the max. */
  percentilesMs?: Record<string, number>;
  /** Mean ms per job of each step at this (unsaturated) rate. */
  stepsMsPerJob: Record<string, number>;
}

/** The producer ticks every 10 ms; rate/100 jobs per tick. */
const TICK_MS = 10;

export async function latency(
  services: BenchServices,
  options: { perSec: number; seconds: number; warmupSeconds: number },
): Promise<LatencyResult> {
  const { config } = runConfig(services, 'latency');
  await createTable(config);
  const metrics = new WorkerMetrics();
  const dynamo = createDynamoClients(config, metrics.dynamoCall);
  const stores = createDynamoStores(dynamo, config);
  const seeded = await seedUsers(stores);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const logger = devNullLogger();
  const times = new StepTimes();
  const untimeAcks = timeAcks(times);
  const service = startWorkerService({
    config,
    stores: timedStores(stores, times),
    redis,
    logger,
    metrics,
  });
  timeAttempts(service.system.lifecycle, times);

  const total = Math.round(options.perSec * (options.seconds + options.warmupSeconds));
  const measureFrom = Date.now() + options.warmupSeconds * 1000;
  const samples: number[] = [];
  let finished = 0;
  const allDone = new Promise<void>((resolve) => {
    service.worker.on('completed', (job) => {
      finished += 1;
      if (job.timestamp >= measureFrom && job.finishedOn) samples.push(job.finishedOn - job.timestamp);
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
  const started = Date.now();
  await producer.run();
  const producedIn = (Date.now() - started) / 1000;
  await allDone;
  await service.close();
  untimeAcks();
  await producerSide.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  producerRedis.disconnect();
  dynamo.close();

  samples.sort((a, b) => a - b);
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
  };
}
