// 1. Queue overhead: the project's worker pipeline on in-memory stores (validation, classification,
// logging at info to /dev/null, metrics, history buffering, the ledger) against a raw BullMQ worker
// with a no-op processor: same Redis, same concurrency, same job count and job options.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { Ledger } from '../../shared/lifecycle/ledger.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { progress } from '../report.js';
import {
  type BenchServices,
  CONCURRENCY,
  devNullLogger,
  dropPrefix,
  redisCpuSeconds,
  runConfig,
  waitForOutcomes,
} from '../support.js';
import { benchGenerator, fillQueue, generate, seedUsers } from '../workload.js';

export interface QueueOverheadResult {
  jobs: number;
  rounds: number;
  rawJobsPerSec: number[];
  projectJobsPerSec: number[];
  /** Median over rounds of project ÷ raw, each pair run back to back (so both see the same load). */
  ratio: number;
  /** CPU per job (this process + Redis), less sensitive than jobs/s to what else runs on the machine. */
  rawCpuMicrosPerJob: { node: number; redis: number };
  projectCpuMicrosPerJob: { node: number; redis: number };
}

interface Round {
  jobsPerSec: number;
  node: number;
  redis: number;
}

/** Measures the CPU the worker process and Redis spend while `run` goes. */
async function withCpu(services: BenchServices, jobs: number, run: () => Promise<number>): Promise<Round> {
  const redis0 = await redisCpuSeconds(services.control);
  const node0 = process.cpuUsage();
  const jobsPerSec = await run();
  const node = process.cpuUsage(node0);
  const redis = (await redisCpuSeconds(services.control)) - redis0;
  return { jobsPerSec, node: (node.user + node.system) / jobs, redis: (redis * 1e6) / jobs };
}

async function rawRound(services: BenchServices, jobs: number): Promise<Round> {
  const { config } = runConfig(services, 'raw');
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  await fillQueue(queue, generate(benchGenerator(config), jobs), operationJobOptions(config));
  let done = 0;
  const round = await withCpu(services, jobs, async () => {
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
    return jobs / ((await finished) / 1000);
  });
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  return round;
}

async function projectRound(services: BenchServices, jobs: number): Promise<Round> {
  const { config } = runConfig(services, 'pipeline');
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const stores = createMemoryStores();
  const seeded = await seedUsers(stores);
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  await fillQueue(queue, generate(benchGenerator(config, seeded), jobs), operationJobOptions(config));
  const ledger = new Ledger(redis, queueKeys(config), config.LEDGER_MAX_ENTRIES);
  let service: ReturnType<typeof startWorkerService> | undefined;
  const round = await withCpu(services, jobs, async () => {
    const started = Date.now();
    service = startWorkerService({ config, stores, redis, logger: devNullLogger(), metrics: new WorkerMetrics() });
    const settled = await waitForOutcomes(services.control, ledger.outcomesKey, jobs, (done) =>
      progress('queue overhead', `project pipeline ${done}/${jobs}`),
    );
    return jobs / ((settled.lastAt - started) / 1000);
  });
  await service?.close();
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  return round;
}

export async function queueOverhead(
  services: BenchServices,
  options: { jobs: number; rounds: number },
): Promise<QueueOverheadResult> {
  const raw: Round[] = [];
  const project: Round[] = [];
  // Interleaved, so a burst of load from elsewhere hits both sides alike.
  for (let round = 0; round < options.rounds; round++) {
    raw.push(await rawRound(services, options.jobs));
    project.push(await projectRound(services, options.jobs));
  }
  const ratios = project.map((p, i) => p.jobsPerSec / (raw[i] as Round).jobsPerSec).sort((a, b) => a - b);
  const cpu = (rounds: Round[]) => ({
    node: Math.round(median(rounds.map((r) => r.node))),
    redis: Math.round(median(rounds.map((r) => r.redis))),
  });
  return {
    jobs: options.jobs,
    rounds: options.rounds,
    rawJobsPerSec: raw.map((r) => Math.round(r.jobsPerSec)),
    projectJobsPerSec: project.map((r) => Math.round(r.jobsPerSec)),
    ratio: median(ratios),
    rawCpuMicrosPerJob: cpu(raw),
    projectCpuMicrosPerJob: cpu(project),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
