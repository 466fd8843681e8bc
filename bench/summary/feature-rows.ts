// The table's rows about what features cost or hold up to: tracing, a long job history, a hot
// aggregate, and throttling under a capacity limit.
import { fmt } from '../../charts/table.js';
import type { Row } from '../report.js';
import type { CapacitySection } from '../sections/capacity.js';
import type { HistoryResult } from '../sections/history.js';
import type { HotAggregateResult } from '../sections/hot-aggregate.js';
import type { SearchResult } from '../sections/search.js';
import type { TracingResult } from '../sections/tracing.js';
import { median } from '../support.js';

/** Throughput and worker CPU with tracing on (100% and 1% sampled) against off. */
export function tracingRows(t: TracingResult): Row[] {
  const rows: Row[] = [];
  const spread = (r: TracingResult['ratio1']) => `${fmt.ratio(r.median)} (${fmt.ratio(r.min)}–${fmt.ratio(r.max)})`;
  const off = median(t.jobsPerSec.off) as number;
  rows.push([
    `Tracing on, 100% sampled (1 worker, ${t.jobs} jobs, median and range of ${t.rounds} rounds)`,
    fmt.rate(median(t.jobsPerSec.sampled100) as number),
    `tracing off ${fmt.rate(off)}`,
    spread(t.ratio100),
    `(info) ${t.exportBytesPerJob100} B OTLP/job`,
  ]);
  rows.push([
    'Tracing on, 1% sampled (parent-based ratio)',
    fmt.rate(median(t.jobsPerSec.sampled1) as number),
    `tracing off ${fmt.rate(off)}`,
    spread(t.ratio1),
    '(info)',
  ]);
  const cpuOff = median(t.cpuMicrosPerJob.off) as number;
  rows.push([
    'Worker CPU per job, traced 100% / 1% (off/on)',
    `${median(t.cpuMicrosPerJob.sampled100)} / ${median(t.cpuMicrosPerJob.sampled1)} µs`,
    `tracing off ${cpuOff} µs`,
    `${spread(t.cpuRatio100)} / ${spread(t.cpuRatio1)}`,
    '(info)',
  ]);
  return rows;
}

/** An update on a user with a long event history against one with a short history. */
export function historyRows(h: HistoryResult, met: string): Row[] {
  const rows: Row[] = [];
  rows.push([
    `Update on a ${h.long.events.toLocaleString('en')}-event user vs a ${h.short.events}-event one (${h.long.updates} each, alternating)`,
    `${h.long.msPerUpdate} ms, ${h.long.readUnitsPerUpdate} RCU`,
    `${h.short.msPerUpdate} ms, ${h.short.readUnitsPerUpdate} RCU`,
    `${fmt.ratio(h.latencyRatio)} / ${fmt.ratio(h.readUnitsRatio)}`,
    `<= 1.20${met}`,
  ]);
  rows.push([
    "Redelivery of the long user's 2nd event after all the rest",
    `${h.redelivery.ms} ms, ${h.redelivery.readUnits} RCU`,
    h.redelivery.foundApplied ? 'found applied' : 'NOT FOUND',
    '',
    '(info)',
  ]);
  return rows;
}

/** Many workers updating one user against one worker doing it serially. */
export function hotAggregateRows(hot: HotAggregateResult, met: string): Row[] {
  const rows: Row[] = [];
  const { serial, contended, share } = hot;
  rows.push([
    `Hot aggregate: ${contended.jobs} updates of one user, ${contended.workers} workers × ${contended.concurrency}`,
    `${fmt.rate(contended.jobsPerSec)}, ${contended.deadLettered} DLQ'd`,
    `serial (1 × 1) ${fmt.rate(serial.jobsPerSec)}`,
    fmt.ratio(share),
    `>= 0.80, 0 DLQ${met}`,
  ]);
  rows.push([
    'Hot aggregate: conflicts per job (lost rounds + put-backs)',
    `${contended.conflictRoundsPerJob} + ${contended.putBacksPerJob}`,
    `serial ${serial.conflictRoundsPerJob} + ${serial.putBacksPerJob}`,
    '',
    contended.verified ? '(info) stream verified' : 'stream NOT verified ✗',
  ]);
  return rows;
}

/** The capacity section: three ways of meeting throttling with 4 workers, then 1 and 8 with flow control. */
export function capacityRows(c: CapacitySection, flowCheck: string): Row[] {
  const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;
  const describe = (r: CapacitySection['modes'][number]) =>
    `goodput ${fmt.ratio(r.goodputShare)} of C, ${pct(r.throttledShare)} throttled, ${r.deadLetteredByThrottling} DLQ'd by throttling`;
  const label: Record<string, string> = {
    'flow-control': 'flow control (the defaults: standard retries)',
    'flow-control-adaptive': "flow control with the SDK's adaptive retries",
    'no-flow-control': 'no flow control (throttles use attempts)',
    'sdk-adaptive': "SDK 'adaptive' retry mode alone",
  };
  const rows: Row[] = c.modes.map((r, i) => [
    i === 0
      ? `Capacity C = ${c.capacity} units/s, demand ~2C, ${r.jobs} jobs, 4 workers: ${label[r.mode]}`
      : `  … ${label[r.mode]}`,
    describe(r),
    `${fmt.rate(r.jobsPerSecond)}, ${r.unitsPerJob} WCU/job`,
    '',
    i === 0 ? `>= 0.85, <= 10%, 0${flowCheck}` : i === 1 ? 'issue 24: >= 0.90, <= 5%' : '(info)',
  ]);
  for (const r of c.scaling) {
    rows.push([`  flow control, ${r.workers} worker(s)`, describe(r), fmt.rate(r.jobsPerSecond), '', '(info)']);
  }
  return rows;
}

/** The console's search on a table of many job records: p95 of each lookup against its target. */
export function searchRows(s: SearchResult): Row[] {
  const jobs = s.jobs.toLocaleString('en');
  const row = (what: string, l: SearchResult['byJobId'], mark: string): Row => [
    `Search on ${jobs} job records: ${what} (${l.samples}, p95)`,
    `${l.p95Ms} ms`,
    `p50 ${l.p50Ms} ms`,
    '',
    `<= ${l.targetMs} ms${mark}`,
  ];
  const each = (l: SearchResult['byJobId']) => (l.p95Ms <= l.targetMs ? ' ✓' : ' ✗');
  return [
    row('by job id', s.byJobId, each(s.byJobId)),
    row(`a user's jobs (${s.users.toLocaleString('en')} users)`, s.byUser, each(s.byUser)),
    row(`a filtered page of 50 (${s.filteredPage.filter})`, s.filteredPage, each(s.filteredPage)),
    ...(s.byError ? [row(`a filtered page of 50 (${s.byError.filter})`, s.byError, each(s.byError))] : []),
    [
      'Index write units per job (accepted and decided; counted from the items)',
      String(s.indexWriteUnitsPerJob),
      '',
      '',
      '(info)',
    ],
  ];
}
