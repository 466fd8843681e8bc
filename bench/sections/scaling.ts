// 4. Horizontal scaling: 1, 2 and 4 worker processes with FAULT_LATENCY_MS=20, so each DynamoDB
// call waits as it would on the network to real DynamoDB and the work is I/O-bound.
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { ScalingFigures } from '../../charts/bench.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { spawnWorker, type WorkerChild } from '../children.js';
import { progress } from '../report.js';
import { type BenchServices, dropPrefix, runConfig, steadyRate, waitForOutcomes, watchTable } from '../support.js';
import { benchGenerator, fillQueue, generate, seededTable } from '../workload.js';

export const SCALING_LATENCY_MS = 20;

/** The figures the chart reads (charts/bench.ts), and the efficiencies the table shows. */
export interface ScalingResult extends ScalingFigures {
  jobsPerWorker: number;
  efficiency2: number;
  efficiency4: number;
}

async function scalingRound(
  services: BenchServices,
  workers: number,
  options: { jobsPerWorker: number; concurrency: number },
): Promise<number> {
  const { config, env } = runConfig(services, `scale${workers}`, {
    WORKER_CONCURRENCY: options.concurrency,
    FAULT_LATENCY_MS: SCALING_LATENCY_MS,
  });
  const jobs = options.jobsPerWorker * workers;
  // Seeding is set-up, not measured: no injected latency.
  const seeded = await seededTable(config);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  // Paused while the workers start, so all of them begin together on a full queue.
  await queue.pause();
  const work = generate(benchGenerator(config, seeded), jobs);
  await fillQueue(queue, work, operationJobOptions(config));
  const watch = watchTable(config).add(work.map((job) => job.id));
  const children: WorkerChild[] = [];
  try {
    for (let i = 0; i < workers; i++) children.push(spawnWorker({ ...env, WORKER_ID: `${env.WORKER_ID}-${i}` }));
    for (let waited = 0; (await queue.getWorkersCount()) < workers; waited += 100) {
      progress('scaling', `${workers} worker(s) starting`);
      const dead = children.find((c) => c.process.exitCode !== null);
      if (dead) throw new Error(`a worker exited at start: ${dead.stderr()}`);
      if (waited > 60_000) throw new Error('workers did not start within 60 s');
      await sleep(100);
    }
    // Registered is not warm: let the processes finish starting before the clock runs.
    await sleep(2000);
    await queue.resume();
    await waitForOutcomes(watch, jobs, (done) => progress('scaling', `${workers} worker(s): ${done}/${jobs}`));
    return steadyRate(watch);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    watch.close();
    await queue.close();
    await dropPrefix(services.control, config.QUEUE_PREFIX);
    redis.disconnect();
  }
}

export async function scaling(
  services: BenchServices,
  options: { jobsPerWorker: number; concurrency: number },
): Promise<ScalingResult> {
  const rates: Record<string, number> = {};
  for (const n of [1, 2, 4]) rates[n] = await scalingRound(services, n, options);
  const one = rates[1] as number;
  return {
    latencyMs: SCALING_LATENCY_MS,
    concurrencyPerWorker: options.concurrency,
    jobsPerWorker: options.jobsPerWorker,
    jobsPerSec: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(v)])),
    efficiency2: (rates[2] as number) / (2 * one),
    efficiency4: (rates[4] as number) / (4 * one),
  };
}
