// The bench's pictures, from the document `npm run bench` writes (bench/results/latest.json):
// throughput by worker count, the enqueue→completion latency distribution and a job's time by step.
// The shapes below are what the charts read of that document, declared here so that rendering
// imports nothing of the bench (which calls it); the bench's own result types satisfy them.
import { barChart } from './svg.js';

export interface ChartFile {
  /** File name under the charts folder, e.g. "bench-scaling.svg". */
  name: string;
  svg: string;
}

/** The bench's `scaling` section, as the chart reads it. */
export interface ScalingFigures {
  latencyMs: number;
  concurrencyPerWorker: number;
  jobsPerSec: Record<string, number>;
}

/** The bench's `latency` section, as the charts read it. */
export interface LatencyFigures {
  offeredPerSec: number;
  seconds: number;
  measuredJobs: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** The whole spread (newer results): enqueue→completion ms at p10…p99.9 and the max. */
  percentilesMs?: Record<string, number>;
  /** Mean ms per job of each step at this (unsaturated) rate. */
  stepsMsPerJob: Record<string, number>;
}

/** The part of bench/results/latest.json the charts read. */
export interface BenchDocument {
  details: { scaling?: ScalingFigures; latency?: LatencyFigures };
  startedAt?: string;
  machine?: { cpus?: number };
}

/** The steps of a job in the order they run, with the label the bench's table and the chart give them. */
export const STEP_LABELS: [string, string][] = [
  ['validate', 'validate (zod payload schema)'],
  ['read', 'read (head and own-event GetItems in parallel, GetItem, GSI Query)'],
  ['append', 'append (conditional PutItem of the event, with the window flag beside it)'],
  ['project', 'project (link: PutItem of the head, conditional on its version)'],
  ['handler', 'handler total (read + append + project, batches in parallel)'],
  ['history', 'history (two buffered records)'],
  ['history-flush', 'history flush (BatchWriteItem, in the background)'],
  ['ledger', 'ledger completed XADD (before the ack)'],
  ['ack', 'ack (BullMQ moveToCompleted, fetches the next job)'],
];

/**
 * The bars of the steps chart: the handler's measured parts, then what else its time holds (waits
 * on a user's turn, conflict rounds, parts that overlap when calls run in parallel count once in
 * it), never the handler's total beside its own parts; then the steps outside the handler. So the
 * handler's bars add up to the handler's time (the table gives the total).
 */
export function stepParts(ms: Readonly<Record<string, number>>): [string, number][] {
  const label = (step: string) => (STEP_LABELS.find(([s]) => s === step)?.[1] ?? step).replace(/ \(.*\)$/, '');
  const inHandler = ['read', 'append', 'project'].filter((step) => ms[step] !== undefined);
  const measured = inHandler.reduce((sum, step) => sum + (ms[step] ?? 0), 0);
  const rest = ms.handler !== undefined ? Math.max(0, ms.handler - measured) : undefined;
  return [
    ...(['validate', ...inHandler]
      .filter((step) => ms[step] !== undefined)
      .map((step) => [label(step), ms[step] ?? 0]) as [string, number][]),
    ...(rest !== undefined ? [['handler: the rest (turns, conflicts)', rest] as [string, number]] : []),
    ...(['history', 'history-flush', 'ledger', 'ack']
      .filter((step) => ms[step] !== undefined)
      .map((step) => [label(step), ms[step] ?? 0]) as [string, number][]),
  ];
}

function runLabel(doc: BenchDocument): string {
  const parts = [doc.machine?.cpus ? `${doc.machine.cpus} vCPUs` : '', doc.startedAt?.slice(0, 10) ?? ''];
  return parts.filter(Boolean).join(', ');
}

/** Older results have only p50/p95/p99/max; newer ones the whole spread. */
export function latencyPercentiles(latency: LatencyFigures): [string, number][] {
  return Object.entries(
    latency.percentilesMs ?? { p50: latency.p50, p95: latency.p95, p99: latency.p99, max: latency.max },
  );
}

export function benchCharts(doc: BenchDocument): ChartFile[] {
  const { scaling, latency } = doc.details;
  const run = runLabel(doc);
  const charts: ChartFile[] = [];
  if (scaling) {
    const counts = Object.keys(scaling.jobsPerSec)
      .map(Number)
      .sort((a, b) => a - b);
    const one = scaling.jobsPerSec[1] ?? 0;
    charts.push({
      name: 'bench-scaling.svg',
      svg: barChart({
        title: 'Throughput by worker count',
        subtitle: `${scaling.latencyMs} ms per DynamoDB call, ${scaling.concurrencyPerWorker} jobs in flight per worker; ${run}`,
        categories: counts.map((n) => `${n} worker${n === 1 ? '' : 's'}`),
        series: [
          { name: 'measured', values: counts.map((n) => scaling.jobsPerSec[n] ?? 0) },
          { name: 'linear (1 worker × n)', values: counts.map((n) => one * n), color: '#bbbbbb' },
        ],
        unit: 'jobs/s',
      }),
    });
  }
  if (latency) {
    const percentiles = latencyPercentiles(latency);
    charts.push({
      name: 'bench-latency.svg',
      svg: barChart({
        title: 'Enqueue→completion latency',
        subtitle: `${latency.offeredPerSec} jobs/s for ${latency.seconds} s on dynalite, ${latency.measuredJobs} jobs; ${run}`,
        categories: percentiles.map(([p]) => p),
        series: [{ name: 'latency', values: percentiles.map(([, ms]) => ms) }],
        unit: 'ms',
      }),
    });
    const parts = stepParts(latency.stepsMsPerJob);
    charts.push({
      name: 'bench-steps.svg',
      svg: barChart({
        title: 'Time per job by step',
        subtitle: `mean ms per job in the latency run; the handler's bars add up to its time; ${run}`,
        categories: parts.map(([label]) => label),
        series: [{ name: 'ms per job', values: parts.map(([, ms]) => ms) }],
        unit: 'ms per job',
        format: (v) => v.toFixed(2),
      }),
    });
  }
  return charts;
}
