// 4. Horizontal scaling: 1, 2 and 4 worker processes with FAULT_LATENCY_MS=20, so each DynamoDB
// call waits as it would on the network to real DynamoDB and the work is I/O-bound.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScalingFigures } from '../../charts/bench.js';
import { progress } from '../report.js';
import { fillPaused, startWorkers, withRunQueue } from '../run-queue.js';
import { type BenchServices, runConfig, steadyRate, waitForOutcomes } from '../support.js';
import { seededTable } from '../workload.js';

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
  return withRunQueue(services, config, async (run) => {
    const watch = await fillPaused(run, config, seeded, jobs);
    await startWorkers(run, workers, env, () => progress('scaling', `${workers} worker(s) starting`));
    // Registered is not warm: let the processes finish starting before the clock runs.
    await sleep(2000);
    await run.queue.resume();
    await waitForOutcomes(watch, jobs, (done) => progress('scaling', `${workers} worker(s): ${done}/${jobs}`));
    return steadyRate(watch);
  });
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
