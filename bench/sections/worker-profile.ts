// Worker CPU per step, from two CPU profiles summed by step (bench/cpu-profile.ts): each step's share
// of the main thread's samples, times the main thread's CPU time per job (from /proc). V8 samples on
// a wall clock, so on a busy machine a sample also covers time the thread waited for a core; the
// shares hold, the sampled time would overstate the CPU.
// - deployed: one worker/main.ts process (dynalite, logs at info, metrics) under `node --cpu-prof`
//   draining a full queue of the default mix; the profile is cut to the draining window after a
//   warm-up (start-up, first-use module loads and shutdown left out).
// - in memory: the queue-overhead section's pipeline (in-memory stores, this process) with V8's
//   profiler on around the draining only, and its raw BullMQ no-op worker the same way: what the
//   project adds to a raw BullMQ worker, step by step.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mainThreadCpuSeconds, processCpuSeconds, spawnWorker } from '../children.js';
import { type CpuProfile, cpuBySteps, NOT_WORK } from '../cpu-profile.js';
import { progress } from '../report.js';
import { fillPaused, startWorker, withRunQueue } from '../run-queue.js';
import { type BenchServices, runConfig, waitForOutcomes } from '../support.js';
import { seededTable } from '../workload.js';
import { projectRun, rawRun } from './queue-overhead.js';

export interface StepProfile {
  jobs: number;
  /** The main thread's CPU time per job over the window (from /proc): what the steps divide. */
  mainThreadCpuMicrosPerJob: number;
  /** The profile's busy (not idle) sampled time per job: above the CPU time when the thread waited for a core. */
  sampledBusyMicrosPerJob: number;
  /** µs of main-thread CPU per job by step, largest first; idle and the bench's own work (NOT_WORK) are not in it. */
  stepsMicrosPerJob: Record<string, number>;
}

export interface WorkerProfileResult {
  deployed: StepProfile & {
    /** The worker process's CPU per job over the window, from /proc (all threads: GC helpers too). */
    processCpuMicrosPerJob: number;
  };
  inMemory: StepProfile;
  /** A raw BullMQ no-op worker, profiled the same way: what any BullMQ worker pays. */
  raw: StepProfile;
}

/** Jobs run before the window opens: first-use module loads and the JIT's warm-up stay out of it. */
const WARMUP_JOBS = 200;

/** Monotonic clock in µs: what V8's profile timestamps count in (on Linux, CLOCK_MONOTONIC both). */
const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

function summarise(profile: CpuProfile, jobs: number, cpuSeconds: number, from?: number, to?: number): StepProfile {
  const steps = cpuBySteps(profile, from, to);
  for (const step of NOT_WORK) steps.delete(step);
  const sampled = [...steps.values()].reduce((a, b) => a + b, 0);
  const cpuMicros = cpuSeconds * 1e6;
  return {
    jobs,
    mainThreadCpuMicrosPerJob: Math.round(cpuMicros / jobs),
    sampledBusyMicrosPerJob: Math.round(sampled / jobs),
    stepsMicrosPerJob: Object.fromEntries(
      [...steps]
        .sort((a, b) => b[1] - a[1])
        .map(([step, micros]) => [step, Math.round(((micros / sampled) * cpuMicros) / jobs)]),
    ),
  };
}

async function deployedProfile(services: BenchServices, jobs: number): Promise<WorkerProfileResult['deployed']> {
  const { config, env } = runConfig(services, 'profile');
  const seeded = await seededTable(config);
  const total = WARMUP_JOBS + jobs;
  return withRunQueue(services, config, async (run) => {
    const watch = await fillPaused(run, config, seeded, total);
    const dir = mkdtempSync(join(tmpdir(), 'djq-profile-'));
    run.defer(() => rmSync(dir, { recursive: true, force: true }));
    const child = await startWorker(
      run,
      () => spawnWorker(env, ['--cpu-prof', `--cpu-prof-dir=${dir}`]),
      () => progress('worker profile', 'worker starting'),
    );
    const pid = child.process.pid as number;
    await run.queue.resume();
    const warm = await waitForOutcomes(watch, WARMUP_JOBS);
    const cpu0 = processCpuSeconds(pid);
    const main0 = mainThreadCpuSeconds(pid);
    const from = monotonicMicros();
    await waitForOutcomes(watch, total, (done) => progress('worker profile', `${done}/${total} under --cpu-prof`));
    const to = monotonicMicros();
    const measured = total - warm.count;
    const processCpu = processCpuSeconds(pid) - cpu0;
    const mainCpu = mainThreadCpuSeconds(pid) - main0;
    await child.stop(); // the profile is written as the process exits
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`the worker wrote no profile into ${dir}: ${child.stderr()}`);
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    return {
      ...summarise(profile, measured, mainCpu, from, to),
      processCpuMicrosPerJob: Math.round((processCpu * 1e6) / measured),
    };
  });
}

/** Profiles `drain` (a run in this process) and the main thread's CPU time while it goes. */
async function profiled(jobs: number, run: (around: <T>(drain: () => Promise<T>) => Promise<T>) => Promise<unknown>) {
  const session = new Session();
  session.connect();
  let profile: CpuProfile | undefined;
  let mainCpu = 0;
  try {
    await session.post('Profiler.enable');
    await run(async (drain) => {
      await session.post('Profiler.start');
      const main0 = mainThreadCpuSeconds(process.pid);
      try {
        return await drain();
      } finally {
        mainCpu = mainThreadCpuSeconds(process.pid) - main0;
        profile = (await session.post('Profiler.stop')).profile as unknown as CpuProfile;
      }
    });
  } finally {
    session.disconnect();
  }
  return summarise(profile as CpuProfile, jobs, mainCpu);
}

async function inMemoryProfiles(services: BenchServices, jobs: number) {
  // A run of each before the profiled ones warms the JIT, as the queue-overhead rounds are warm.
  const warmup = Math.min(jobs, 2000);
  await rawRun(services, warmup, 'profile-raw-warmup', false);
  await projectRun(services, warmup, 'profile-warmup', {});
  return {
    inMemory: await profiled(jobs, (around) => projectRun(services, jobs, 'profile-in-memory', {}, around)),
    raw: await profiled(jobs, (around) => rawRun(services, jobs, 'profile-raw', false, around)),
  };
}

export async function workerProfile(
  services: BenchServices,
  options: { jobs: number; inMemoryJobs: number },
): Promise<WorkerProfileResult> {
  return {
    deployed: await deployedProfile(services, options.jobs),
    ...(await inMemoryProfiles(services, options.inMemoryJobs)),
  };
}
