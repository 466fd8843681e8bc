// 1. Queue overhead: the project's worker pipeline on in-memory stores (validation, classification,
// logging at info to /dev/null, metrics, history buffering, the ledger) against a raw BullMQ worker
// with a no-op processor: same Redis, same concurrency, same job count and job options (attempts,
// backoff, retention by age and count). Beside them, both again with completed jobs removed at once
// (`removeOnComplete: true` for raw BullMQ, JOB_KEEP_COMPLETED=0 for the project): what keeping
// completed jobs for Bull Board costs per job, on each side.
import type { JobsOptions } from 'bullmq';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { drainWithNoOpWorker } from '../noop-worker.js';
import { progress } from '../report.js';
import {
  type BenchServices,
  CONCURRENCY,
  devNullLogger,
  dropPrefix,
  median,
  medianPair,
  OutcomeWatch,
  type Pairing,
  redisCpuSeconds,
  runConfig,
  waitForOutcomes,
} from '../support.js';
import { benchGenerator, fillQueue, generate, seedUsers } from '../workload.js';

/** One side of one round: its rate and the CPU per job of this process and of Redis. */
export interface OverheadRun {
  jobsPerSec: number;
  /** µs of this (worker) process's CPU per job, user + system. */
  nodeMicros: number;
  /** µs of Redis's CPU per job, from INFO cpu. */
  redisMicros: number;
}

/** The four sides, run back to back in each round. */
export interface OverheadRound {
  /** Raw BullMQ no-op worker, the project's job options (completed jobs kept by age and count). */
  raw: OverheadRun;
  /** Raw BullMQ no-op worker, the same options but `removeOnComplete: true`: BullMQ at its fastest. */
  rawRemove: OverheadRun;
  /** The project's pipeline, its default options. */
  project: OverheadRun;
  /** The project's pipeline with JOB_KEEP_COMPLETED=0 (completed jobs removed at once). */
  projectRemove: OverheadRun;
}

export interface QueueOverheadResult {
  jobs: number;
  rounds: OverheadRound[];
  /** project ÷ raw jobs/s, both with the project's job options: the headline (target ≥ 0.8). */
  ratio: Pairing;
  /** project ÷ raw BullMQ with removeOnComplete: true. */
  ratioToFastest: Pairing;
  /** raw (CPU µs per job, worker + Redis) ÷ project: below 1 is what the pipeline adds. */
  cpuRatio: Pairing;
  /** What keeping completed jobs costs per job (kept − removed), µs of CPU, median over rounds. */
  retentionMicrosPerJob: {
    raw: { node: number; redis: number };
    project: { node: number; redis: number };
  };
}

/** Measures the CPU the worker process and Redis spend while `run` goes. */
async function withCpu(services: BenchServices, jobs: number, run: () => Promise<number>): Promise<OverheadRun> {
  const redis0 = await redisCpuSeconds(services.control);
  const node0 = process.cpuUsage();
  const jobsPerSec = await run();
  const node = process.cpuUsage(node0);
  const redis = (await redisCpuSeconds(services.control)) - redis0;
  return {
    jobsPerSec: Math.round(jobsPerSec),
    nodeMicros: Math.round((node.user + node.system) / jobs),
    redisMicros: Math.round((redis * 1e6) / jobs),
  };
}

/** Wraps the draining alone (the worker profile runs a CPU profiler there). */
type Around = <T>(drain: () => Promise<T>) => Promise<T>;
const bare: Around = (drain) => drain();

/** A raw BullMQ worker with a no-op processor draining `jobs`, in this process. */
export async function rawRun(
  services: BenchServices,
  jobs: number,
  label: string,
  removeOnComplete: boolean,
  around: Around = bare,
) {
  const { config } = runConfig(services, label);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  const options: JobsOptions = {
    ...operationJobOptions(config),
    ...(removeOnComplete ? { removeOnComplete: true } : {}),
  };
  await fillQueue(queue, generate(benchGenerator(config), jobs), options);
  const drain = { queueName: config.QUEUE_NAME, prefix: config.QUEUE_PREFIX, concurrency: CONCURRENCY, jobs };
  const run = await withCpu(services, jobs, () =>
    around(async () => {
      const elapsedMs = await drainWithNoOpWorker(redis, drain, (done) =>
        progress('queue overhead', `${label} ${done}/${jobs}`),
      );
      return jobs / (elapsedMs / 1000);
    }),
  );
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  return run;
}

/**
 * The project's pipeline draining `jobs` on in-memory stores, in this process. `around` wraps the
 * draining alone (the worker profile runs a CPU profiler there).
 */
export async function projectRun(
  services: BenchServices,
  jobs: number,
  label: string,
  overrides: Record<string, number>,
  around: Around = bare,
) {
  const { config } = runConfig(services, label, overrides);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const stores = createMemoryStores();
  const seeded = await seedUsers(stores);
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  const work = generate(benchGenerator(config, seeded), jobs);
  await fillQueue(queue, work, operationJobOptions(config));
  const watch = new OutcomeWatch(new DecidedOutcomes(stores.jobs)).add(work.map((job) => job.id));
  let service: ReturnType<typeof startWorkerService> | undefined;
  const run = await withCpu(services, jobs, () =>
    around(async () => {
      const started = Date.now();
      service = startWorkerService({ config, stores, redis, logger: devNullLogger(), metrics: new WorkerMetrics() });
      const settled = await waitForOutcomes(watch, jobs, (done) =>
        progress('queue overhead', `${label} ${done}/${jobs}`),
      );
      return jobs / ((settled.lastAt - started) / 1000);
    }),
  );
  await service?.close();
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  return run;
}

const cpuOf = (r: OverheadRun) => r.nodeMicros + r.redisMicros;

export async function queueOverhead(
  services: BenchServices,
  options: { jobs: number; rounds: number },
): Promise<QueueOverheadResult> {
  const { jobs } = options;
  const rounds: OverheadRound[] = [];
  // Interleaved, so a burst of load from elsewhere hits every side of a round alike.
  for (let i = 0; i < options.rounds; i++) {
    rounds.push({
      raw: await rawRun(services, jobs, 'raw', false),
      rawRemove: await rawRun(services, jobs, 'raw-remove', true),
      project: await projectRun(services, jobs, 'pipeline', {}),
      projectRemove: await projectRun(services, jobs, 'pipeline-remove', { JOB_KEEP_COMPLETED: 0 }),
    });
  }
  const retention = (kept: (r: OverheadRound) => OverheadRun, removed: (r: OverheadRound) => OverheadRun) => ({
    node: Math.round(median(rounds.map((r) => kept(r).nodeMicros - removed(r).nodeMicros)) as number),
    redis: Math.round(median(rounds.map((r) => kept(r).redisMicros - removed(r).redisMicros)) as number),
  });
  return {
    jobs,
    rounds,
    ratio: medianPair(rounds.map((r) => r.project.jobsPerSec / r.raw.jobsPerSec)),
    ratioToFastest: medianPair(rounds.map((r) => r.project.jobsPerSec / r.rawRemove.jobsPerSec)),
    cpuRatio: medianPair(rounds.map((r) => cpuOf(r.raw) / cpuOf(r.project))),
    retentionMicrosPerJob: {
      raw: retention(
        (r) => r.raw,
        (r) => r.rawRemove,
      ),
      project: retention(
        (r) => r.project,
        (r) => r.projectRemove,
      ),
    },
  };
}
