// Tracing overhead: one worker process (worker/main.ts, as deployed) draining a full queue with
// tracing off, on at 100% sampling and on at 1% (parent-based ratio), exporting OTLP/HTTP (protobuf,
// the SDK's default) to a receiver on loopback that accepts and drops. The three run back to back
// in each round, rounds interleaved, so load from the rest of the machine hits each alike; the
// figures are ratios within a round, with their spread over the rounds. Besides jobs/s, the
// worker's own CPU time per job (from /proc), which a busy machine disturbs much less than a rate.
import { setTimeout as sleep } from 'node:timers/promises';
import { processCpuSeconds, spawnWorker } from '../children.js';
import { type OtlpReceiver, startOtlpReceiver } from '../otlp-receiver.js';
import { progress } from '../report.js';
import { fillPaused, startWorker, withRunQueue } from '../run-queue.js';
import { type BenchServices, median, round, runConfig, steadyRate, waitForOutcomes } from '../support.js';
import { seededTable } from '../workload.js';

export const TRACING_MODES = ['off', 'sampled100', 'sampled1'] as const;
export type TracingMode = (typeof TRACING_MODES)[number];

export interface TracingResult {
  jobs: number;
  rounds: number;
  /** jobs/s of each mode in each round (steady state, from the ledger's outcome times). */
  jobsPerSec: Record<TracingMode, number[]>;
  /** on/off within each round, then the median and the range over rounds. */
  ratio100: { median: number; min: number; max: number; perRound: number[] };
  ratio1: { median: number; min: number; max: number; perRound: number[] };
  /** The worker process's CPU time (user + system) per job, in µs, per mode and round. */
  cpuMicrosPerJob: Record<TracingMode, number[]>;
  /** off/on CPU per job within each round (as a throughput ratio: below 1 costs), median and range. */
  cpuRatio100: { median: number; min: number; max: number; perRound: number[] };
  cpuRatio1: { median: number; min: number; max: number; perRound: number[] };
  /** What the sink received in the 100% runs: bytes of OTLP per job. */
  exportBytesPerJob100: number;
}

function otelEnv(mode: TracingMode, sink: OtlpReceiver): Record<string, string> {
  if (mode === 'off') return {};
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
    OTEL_TRACES_SAMPLER: mode === 'sampled100' ? 'parentbased_always_on' : 'parentbased_traceidratio',
    ...(mode === 'sampled1' ? { OTEL_TRACES_SAMPLER_ARG: '0.01' } : {}),
  };
}

async function tracingRound(services: BenchServices, mode: TracingMode, jobs: number, sink: OtlpReceiver) {
  const { config, env } = runConfig(services, `trace-${mode}`);
  const seeded = await seededTable(config);
  // The bench fills the queue itself (no producer spans): what is measured is the worker's cost.
  return withRunQueue(services, config, async (run) => {
    const watch = await fillPaused(run, config, seeded, jobs);
    const bytesBefore = sink.bytes;
    const child = await startWorker(
      run,
      () => spawnWorker({ ...env, ...otelEnv(mode, sink) }),
      () => progress('tracing', `${mode}: worker starting`),
    );
    await sleep(1000); // registered is not warm
    const pid = child.process.pid as number;
    const cpu0 = processCpuSeconds(pid);
    await run.queue.resume();
    await waitForOutcomes(watch, jobs, (done) => progress('tracing', `${mode}: ${done}/${jobs}`));
    const cpuMicrosPerJob = ((processCpuSeconds(pid) - cpu0) * 1e6) / jobs;
    const rate = steadyRate(watch);
    // Stopping flushes the exporter (bounded), so the bytes count what this run exported.
    await child.stop();
    return { rate, cpuMicrosPerJob, exportedBytes: sink.bytes - bytesBefore };
  });
}

export async function tracingOverhead(
  services: BenchServices,
  options: { jobs: number; rounds: number },
): Promise<TracingResult> {
  const sink = await startOtlpReceiver();
  const jobsPerSec: Record<TracingMode, number[]> = { off: [], sampled100: [], sampled1: [] };
  const cpu: Record<TracingMode, number[]> = { off: [], sampled100: [], sampled1: [] };
  const bytes100: number[] = [];
  try {
    for (let r = 0; r < options.rounds; r++) {
      // Rotate the order, so no mode always runs first (warm disks, caches) or last.
      const order = TRACING_MODES.map((_, i) => TRACING_MODES[(i + r) % TRACING_MODES.length] as TracingMode);
      for (const mode of order) {
        const { rate, cpuMicrosPerJob, exportedBytes } = await tracingRound(services, mode, options.jobs, sink);
        jobsPerSec[mode].push(rate);
        cpu[mode].push(cpuMicrosPerJob);
        if (mode === 'sampled100') bytes100.push(exportedBytes / options.jobs);
      }
    }
  } finally {
    await sink.close();
  }
  const spread = (perRound: number[]) => ({
    median: round(median(perRound) as number, 3),
    min: round(Math.min(...perRound), 3),
    max: round(Math.max(...perRound), 3),
    perRound: perRound.map((x) => round(x, 3)),
  });
  const cpuRatio = (mode: TracingMode) => spread(cpu[mode].map((c, i) => (cpu.off[i] as number) / c));
  const ratios = (mode: TracingMode) => spread(jobsPerSec[mode].map((rate, i) => rate / (jobsPerSec.off[i] as number)));
  const rounded = (byMode: Record<TracingMode, number[]>) =>
    Object.fromEntries(TRACING_MODES.map((mode) => [mode, byMode[mode].map((x) => Math.round(x))])) as Record<
      TracingMode,
      number[]
    >;
  return {
    jobs: options.jobs,
    rounds: options.rounds,
    jobsPerSec: rounded(jobsPerSec),
    ratio100: ratios('sampled100'),
    ratio1: ratios('sampled1'),
    cpuMicrosPerJob: rounded(cpu),
    cpuRatio100: cpuRatio('sampled100'),
    cpuRatio1: cpuRatio('sampled1'),
    exportBytesPerJob100: Math.round(median(bytes100) ?? 0),
  };
}
