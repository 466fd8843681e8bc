// The tables printed after the main one: a job's time by step, DynamoDB round trips per operation,
// Redis commands per job, and worker CPU per job by step.
import { STEP_LABELS } from '../../charts/bench.js';
import { renderTable } from '../../charts/table.js';
import type { LatencyResult } from '../sections/latency.js';
import type { RedisCommandsResult } from '../sections/redis-commands.js';
import type { OperationTrips } from '../sections/round-trips.js';
import type { StepProfile, WorkerProfileResult } from '../sections/worker-profile.js';

/** The round trips each operation should make (docs/results.md "Performance"); the run checks them. */
export const EXPECTED_TRIPS: Record<string, string> = {
  'create-user': '2',
  'get-user': '1',
  'update-user': '5 in 3',
  'query-by-department': '1',
  'delete-user': '5 in 3',
  'batch-create-users': '2 per user',
};

export function stepsTable(latency: LatencyResult): string {
  const steps = latency.stepsMsPerJob;
  const rows = STEP_LABELS.filter(([step]) => steps[step] !== undefined).map(([step, label]) => [
    label,
    `${(steps[step] as number).toFixed(3)} ms`,
  ]);
  return renderTable(
    `Time per job by step (latency run: dynalite, ${latency.offeredPerSec} jobs/s; mean per job, a step run twice counts twice)`,
    ['Step', 'ms per job'],
    rows,
  );
}

export function tripsTable(trips: Record<string, OperationTrips>): string {
  const rows = Object.entries(trips).map(([op, t]) => [
    op,
    t.perUser !== undefined ? `${t.perUser} per user (${t.mean} per job)` : `${t.mean}`,
    `${t.min}–${t.max}`,
    EXPECTED_TRIPS[op] ?? '?',
    `${t.jobs}`,
  ]);
  return renderTable(
    'DynamoDB round trips per operation (counted)',
    ['Operation', 'Mean', 'Min–max', 'Expected', 'Jobs'],
    rows,
  );
}

export function redisTable(r: RedisCommandsResult): string {
  const sent = Object.entries(r.requestsByName).map(([name, n]) => [`sent: ${name}`, n.toFixed(3), '']);
  const run = Object.entries(r.serverByCommand).map(([name, s]) => [
    `run by Redis: ${name}`,
    s.calls.toFixed(3),
    s.usec.toFixed(1),
  ]);
  return renderTable(
    `Redis per job (producer at ${r.offeredPerSec} jobs/s + one worker, ${r.jobs} jobs, a redis-server of its own): ` +
      `${r.roundTripsPerJob} round trips, ${r.requestsPerJob} requests sent, ${r.serverCommandsPerJob} commands run ` +
      `(scripts' own included), ${r.redisCpuMicrosPerJob} µs of Redis CPU`,
    ['What', 'Per job', 'Redis µs per job'],
    [...sent, ...run],
  );
}

export function profileTable(p: WorkerProfileResult): string {
  const { deployed, inMemory, raw } = p;
  const steps = [
    ...new Set([
      ...Object.keys(deployed.stepsMicrosPerJob),
      ...Object.keys(inMemory.stepsMicrosPerJob),
      ...Object.keys(raw?.stepsMicrosPerJob ?? {}),
    ]),
  ];
  const cell = (profile: StepProfile, step: string) => {
    const micros = profile.stepsMicrosPerJob[step];
    if (micros === undefined) return '';
    const total = profile.mainThreadCpuMicrosPerJob;
    return `${micros} µs (${total > 0 ? Math.round((micros / total) * 100) : 0}%)`;
  };
  return renderTable(
    "Worker CPU per job by step (CPU profiles: a step's share of the main thread's samples × its CPU time; a sample " +
      'counts for the innermost frame of ours or a package). ' +
      `Deployed: worker/main.ts on dynalite, ${deployed.jobs} jobs, main thread ${deployed.mainThreadCpuMicrosPerJob} µs ` +
      `per job (all threads ${deployed.processCpuMicrosPerJob} µs). In memory: the queue-overhead pipeline, ` +
      `${inMemory.jobs} jobs, main thread ${inMemory.mainThreadCpuMicrosPerJob} µs per job` +
      (raw ? `; raw BullMQ no-op worker the same way: ${raw.mainThreadCpuMicrosPerJob} µs` : ''),
    ['Step', 'Deployed (dynalite)', 'In memory', 'Raw BullMQ no-op'],
    steps.map((step) => [step, cell(deployed, step), cell(inMemory, step), raw ? cell(raw, step) : '']),
  );
}
