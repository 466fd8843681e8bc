// 1. Queue overhead: the project's worker pipeline on in-memory stores (validation, classification,
// logging at info to /dev/null, metrics, history buffering, the ledger) against a raw BullMQ worker
// with a no-op processor: same Redis, same concurrency, same job count and job options.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Ledger } from '../../shared/ledger.js';
import { operationJobOptions } from '../../shared/queues.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { progress } from '../report.js';
import { type BenchServices, CONCURRENCY, devNullLogger, dropPrefix, runConfig, waitForOutcomes } from '../support.js';
import { benchGenerator, fillQueue, generate, seedUsers } from '../workload.js';

export interface QueueOverheadResult {
  jobs: number;
  rounds: number;
  rawJobsPerSec: number[];
  projectJobsPerSec: number[];
  /** Best project round ÷ best raw round (best-of damps the noise of a shared machine). */
  ratio: number;
}

async function rawRound(services: BenchServices, jobs: number): Promise<number> {
  const { config } = runConfig(services, 'raw');
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  await fillQueue(queue, generate(benchGenerator(config), jobs), operationJobOptions(config));
  let done = 0;
  const started = performance.now();
  const finished = new Promise<number>((resolve) => {
    const worker = new Worker(config.QUEUE_NAME, async () => undefined, {
      connection: redis,
      prefix: config.QUEUE_PREFIX,
      concurrency: CONCURRENCY,
    });
    worker.on('completed', () => {
      done += 1;
      if (done % 1000 === 0) progress('queue overhead', `raw BullMQ ${done}/${jobs}`);
      if (done === jobs) {
        const elapsed = performance.now() - started;
        void worker.close().then(() => resolve(elapsed));
      }
    });
  });
  const elapsedMs = await finished;
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  return jobs / (elapsedMs / 1000);
}

async function projectRound(services: BenchServices, jobs: number): Promise<number> {
  const { config } = runConfig(services, 'pipeline');
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const stores = createMemoryStores();
  const seeded = await seedUsers(stores);
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  await fillQueue(queue, generate(benchGenerator(config, seeded), jobs), operationJobOptions(config));
  const ledger = new Ledger(redis, config.QUEUE_PREFIX, config.QUEUE_NAME);
  const started = Date.now();
  const service = startWorkerService({ config, stores, redis, logger: devNullLogger(), metrics: new WorkerMetrics() });
  const settled = await waitForOutcomes(services.control, ledger.outcomesKey, jobs, (done) =>
    progress('queue overhead', `project pipeline ${done}/${jobs}`),
  );
  await service.close();
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  return jobs / ((settled.lastAt - started) / 1000);
}

export async function queueOverhead(
  services: BenchServices,
  options: { jobs: number; rounds: number },
): Promise<QueueOverheadResult> {
  const raw: number[] = [];
  const project: number[] = [];
  // Interleaved, so a burst of load from elsewhere hits both sides alike.
  for (let round = 0; round < options.rounds; round++) {
    raw.push(await rawRound(services, options.jobs));
    project.push(await projectRound(services, options.jobs));
  }
  return {
    jobs: options.jobs,
    rounds: options.rounds,
    rawJobsPerSec: raw.map(Math.round),
    projectJobsPerSec: project.map(Math.round),
    ratio: Math.max(...project) / Math.max(...raw),
  };
}
