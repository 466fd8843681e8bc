// The chaos suite's pictures, from its results (chaos/results/latest.json): every scenario's jobs
// by outcome, the soak's memory as its jobs finish, and the capacity scenario's flow control second
// by second.
import type { ChartFile } from './bench.js';
import { barChart, lineChart, type Series } from './svg.js';

/**
 * One scenario's result as the charts read it, declared here so that rendering imports nothing of
 * the chaos harness (which calls it); chaos/scenario.ts's ScenarioResult satisfies it. The soak
 * adds its samples as extra keys (finishedAt, workerRssMb, …).
 */
export interface ScenarioFigures {
  scenario: string;
  enqueued: number;
  completed: number;
  deadLettered: number;
  pending: number;
  lost: number;
  duplicated: number;
  passed: boolean;
  [extra: string]: unknown;
}

const OUTCOME_COLORS = { completed: '#009E73', deadLettered: '#E69F00', pending: '#56B4E9', lost: '#D55E00' };

function outcomes(results: readonly ScenarioFigures[]): ChartFile {
  const share = (pick: (r: ScenarioFigures) => number) =>
    results.map((r) => (r.enqueued > 0 ? (100 * pick(r)) / r.enqueued : 0));
  const series: Series[] = [
    { name: 'completed', values: share((r) => r.completed), color: OUTCOME_COLORS.completed },
    { name: 'dead-lettered', values: share((r) => r.deadLettered), color: OUTCOME_COLORS.deadLettered },
    { name: 'pending', values: share((r) => r.pending), color: OUTCOME_COLORS.pending },
    { name: 'lost', values: share((r) => r.lost), color: OUTCOME_COLORS.lost },
  ];
  return {
    name: 'chaos-outcomes.svg',
    svg: barChart({
      title: 'Jobs by outcome per chaos scenario',
      subtitle: 'share of the jobs enqueued; after each bar: completed / dead-lettered / lost / duplicated, result',
      categories: results.map((r) => r.scenario),
      series,
      stacked: true,
      unit: '% of jobs enqueued',
      labels: results.map(
        (r) =>
          `${r.completed} / ${r.deadLettered} / ${r.lost} / ${r.duplicated} of ${r.enqueued}, ${r.passed ? 'pass' : 'FAIL'}`,
      ),
    }),
  };
}

/** Samples taken while a scenario ran, paired by index with the jobs finished at each. */
function soakCharts(soak: ScenarioFigures): ChartFile[] {
  const finished = Array.isArray(soak.finishedAt) ? (soak.finishedAt as number[]) : [];
  const samples = (key: string) => (Array.isArray(soak[key]) ? (soak[key] as number[]) : []);
  const chart = (name: string, title: string, series: { name: string; values: number[] }[]) => {
    const present = series.filter((s) => s.values.length >= 2);
    if (present.length === 0 || finished.length < 2) return [];
    // A sample where the worker was not alive has no RSS entry: cut every series to the shortest.
    const n = Math.min(finished.length, ...present.map((s) => s.values.length));
    return [
      {
        name,
        svg: lineChart({
          title,
          subtitle: `soak: ${soak.enqueued.toLocaleString('en-US')} jobs, 4 workers, kills and DynamoDB faults; ${n} samples`,
          x: { label: 'jobs finished', values: finished.slice(0, n) },
          y: { label: 'MB' },
          series: present.map((s) => ({ name: s.name, values: s.values.slice(0, n) })),
        }),
      },
    ];
  };
  return [
    ...chart('chaos-soak-worker-rss.svg', 'Soak: worker memory (RSS) as jobs finish', [
      { name: 'long-lived worker w1', values: samples('workerRssMb') },
      { name: 'largest live worker', values: samples('workerRssMaxMb') },
    ]),
    ...chart('chaos-soak-redis-memory.svg', 'Soak: Redis memory as jobs finish', [
      { name: 'used_memory', values: samples('redisUsedMemoryMb') },
      { name: 'less the ledger and the DLQ (kept by design)', values: samples('redisQueueMemoryMb') },
    ]),
  ];
}

/** The capacity scenario's seconds (chaos/scenarios/capacity.ts's FlowTimeline), as the chart reads them. */
interface FlowTimelineFigures {
  seconds: number[];
  admittedWriteUnits: number[];
  throttledRequests: number[];
  rateJobsPerSecond: number[];
}

/**
 * The capacity scenario second by second: what the table admitted against its budget, the fleet's
 * rate (in write units: jobs/s times the run's write units per job, so it sits on the same axis)
 * and the requests throttled. Results saved before the scenario kept its seconds draw nothing.
 */
function capacityFlowChart(capacity: ScenarioFigures): ChartFile[] {
  const timeline = capacity.flowTimeline as FlowTimelineFigures | undefined;
  const faults = (capacity.faults ?? {}) as { capacityUnitsPerSecond?: number; unitsPerJob?: number };
  if (!timeline || timeline.seconds.length < 2 || !faults.capacityUnitsPerSecond || !faults.unitsPerJob) return [];
  const { capacityUnitsPerSecond: budget, unitsPerJob } = faults;
  return [
    {
      name: 'chaos-capacity-flow.svg',
      svg: lineChart({
        title: `Flow control: the fleet against a table of ${budget} write units/s`,
        subtitle: `capacity scenario, ${capacity.enqueued.toLocaleString('en-US')} jobs, 4 workers, demand ~2x: goodput ${String(capacity.goodputShare)}, ${Math.round(Number(capacity.throttledShare) * 100)}% of requests throttled`,
        x: { label: 'seconds since the first request', values: timeline.seconds },
        y: { label: 'per second' },
        series: [
          { name: 'write units admitted', values: timeline.admittedWriteUnits, color: '#009E73' },
          { name: 'budget', values: timeline.seconds.map(() => budget), color: '#bbbbbb' },
          {
            name: `fleet rate × ${unitsPerJob.toFixed(1)} units a job (0: no limit)`,
            values: timeline.rateJobsPerSecond.map((rate) => Math.round(rate * unitsPerJob)),
            color: '#0072B2',
          },
          { name: 'requests throttled', values: timeline.throttledRequests, color: '#D55E00' },
        ],
      }),
    },
  ];
}

export function chaosCharts(results: readonly ScenarioFigures[]): ChartFile[] {
  const charts = results.length > 0 ? [outcomes(results)] : [];
  const soak = results.find((r) => r.scenario === 'soak');
  const capacity = results.find((r) => r.scenario === 'capacity');
  return [...charts, ...(soak ? soakCharts(soak) : []), ...(capacity ? capacityFlowChart(capacity) : [])];
}
