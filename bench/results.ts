// Turns the measurements into the headline figures (the JSON's top level), the targets they are
// held to, and the tables printed at the end of a run.
import { fmt, type Row, renderTable } from './report.js';
import type { CapacitySection } from './sections/capacity.js';
import type { BaselineRun, CeilingRun, ProjectRun } from './sections/end-to-end.js';
import type { HistoryResult } from './sections/history.js';
import type { HotAggregateResult } from './sections/hot-aggregate.js';
import type { LatencyResult } from './sections/latency.js';
import type { MemoryResult } from './sections/memory.js';
import type { NodeVersionPair, NodeVersionsResult } from './sections/node-versions.js';
import type { ProducerResult } from './sections/producer.js';
import type { OverheadRound, OverheadRun, QueueOverheadResult } from './sections/queue-overhead.js';
import type { RedisCommandsResult } from './sections/redis-commands.js';
import type { OperationTrips } from './sections/round-trips.js';
import type { ScalingResult } from './sections/scaling.js';
import type { ShardsResult } from './sections/shards.js';
import type { TracingResult } from './sections/tracing.js';
import type { StepProfile, WorkerProfileResult } from './sections/worker-profile.js';
import { median, medianPair, type Pairing, round } from './support.js';

export interface Figures {
  queueOverhead?: QueueOverheadResult;
  naive?: BaselineRun[];
  project?: ProjectRun[];
  ceiling?: CeilingRun[];
  roundTrips?: Record<string, OperationTrips>;
  redisCommands?: RedisCommandsResult;
  workerProfile?: WorkerProfileResult;
  scaling?: ScalingResult;
  latency?: LatencyResult;
  memory?: MemoryResult;
  producer?: ProducerResult;
  tracing?: TracingResult;
  history?: HistoryResult;
  hotAggregate?: HotAggregateResult;
  shards?: ShardsResult;
  capacity?: CapacitySection;
  nodeVersions?: NodeVersionsResult;
}

/** The round trips each operation should make (README "Performance"); the run checks them. */
export const EXPECTED_TRIPS: Record<string, string> = {
  'create-user': '2',
  'get-user': '1',
  'update-user': '5 in 3',
  'query-by-department': '1',
  'delete-user': '5 in 3',
  'batch-create-users': '2 per user',
};

const check = (met: boolean | undefined) => (met === undefined ? '' : met ? ' ✓' : ' ✗');

export function summarise(f: Figures, quick: boolean) {
  // A ratio is the median of the ratios within back-to-back rounds, and its row shows that round's
  // figures (so figures and ratio agree); counts per job are medians over rounds.
  const med = <T>(runs: T[] | undefined, key: (r: T) => number) => (runs?.length ? median(runs.map(key)) : undefined);
  const e2e = endToEndPairs(f);
  const queueOverheadRatio = f.queueOverhead?.ratio.ratio;
  const backendRequestsRatio = e2e?.requests.ratio;
  const endToEndJobsRatio = e2e?.jobs.ratio;
  const backendCeilingShare = e2e?.ceilingRequests?.ratio;
  const latencyMs = f.latency ? { p50: f.latency.p50, p95: f.latency.p95, p99: f.latency.p99 } : undefined;

  const targets = {
    queueOverheadRatio: {
      target: '>= 0.8',
      met: queueOverheadRatio === undefined ? undefined : queueOverheadRatio >= 0.8,
    },
    backendRequestsRatio: {
      target: '>= 0.9',
      met: backendRequestsRatio === undefined ? undefined : backendRequestsRatio >= 0.9,
    },
    historyRequestsPerJob: {
      target: '<= 0.1',
      met: f.project?.length ? (med(f.project, (r) => r.historyRequestsPerJob) as number) <= 0.1 : undefined,
    },
    scalingEfficiency4: { target: '>= 0.9', met: f.scaling ? f.scaling.efficiency4 >= 0.9 : undefined },
    latencyP99Ms: { target: '<= 25', met: latencyMs ? latencyMs.p99 <= 25 : undefined },
    workerRssGrowth: { target: '<= 1.2', met: f.memory ? f.memory.growth <= 1.2 : undefined },
    historyCostRatio: { target: '<= 1.2', met: f.history ? f.history.costRatio <= 1.2 : undefined },
    hotAggregateShare: {
      target: '>= 0.8, 0 dead-lettered',
      met: f.hotAggregate
        ? f.hotAggregate.share >= 0.8 &&
          f.hotAggregate.contended.deadLettered === 0 &&
          f.hotAggregate.contended.verified
        : undefined,
    },
    capacityGoodputShare: {
      target: '>= 0.85, <= 10% throttled, 0 dead-lettered by throttling (flow control, 4 workers)',
      met: f.capacity
        ? (() => {
            const flow = f.capacity.modes[0];
            return flow
              ? flow.goodputShare >= 0.85 && flow.throttledShare <= 0.1 && flow.deadLetteredByThrottling === 0
              : false;
          })()
        : undefined,
    },
  };

  const json = {
    queueOverheadRatio: maybe(queueOverheadRatio, 3),
    queueOverheadRatioToFastest: maybe(f.queueOverhead?.ratioToFastest.ratio, 3),
    backendRequestsRatio: maybe(backendRequestsRatio, 3),
    endToEndJobsRatio: maybe(endToEndJobsRatio, 3),
    backendCapacityRatio: maybe(e2e?.capacity.ratio, 3),
    requestsPerJob: maybe(
      med(f.project, (r) => r.requestsPerJob),
      3,
    ),
    capacityUnitsPerJob: maybe(
      med(f.project, (r) => r.capacityUnitsPerJob ?? Number.NaN),
      3,
    ),
    historyRequestsPerJob: maybe(
      med(f.project, (r) => r.historyRequestsPerJob),
      3,
    ),
    backendCeilingShare: maybe(backendCeilingShare, 3),
    backendCeilingCapacityShare: maybe(e2e?.ceilingCapacity?.ratio, 3),
    scalingEfficiency4: maybe(f.scaling?.efficiency4, 3),
    latencyMs: latencyMs ?? null,
    workerRssGrowth: maybe(f.memory?.growth, 3),
    redisUsedMemoryMB: f.memory?.redisUsedMemoryMB ?? null,
    producerBulkSpeedup: maybe(f.producer ? f.producer.addBulkPerSec / f.producer.addPerSec : undefined, 2),
    tracingRatio100: maybe(f.tracing?.ratio100.median, 3),
    tracingRatio1: maybe(f.tracing?.ratio1.median, 3),
    tracingCpuRatio100: maybe(f.tracing?.cpuRatio100.median, 3),
    tracingCpuRatio1: maybe(f.tracing?.cpuRatio1.median, 3),
    historyCostRatio: maybe(f.history?.costRatio, 3),
    redisCommandsPerJob: f.redisCommands?.serverCommandsPerJob ?? null,
    redisRoundTripsPerJob: f.redisCommands?.roundTripsPerJob ?? null,
    workerCpuMicrosPerJob: f.workerProfile?.deployed.processCpuMicrosPerJob ?? null,
    hotAggregateShare: maybe(f.hotAggregate?.share, 3),
    hotAggregateDeadLettered: f.hotAggregate ? f.hotAggregate.contended.deadLettered : null,
    shardsProducerRatio: maybe(f.shards?.producerRatio, 2),
    shardsWorkerRatio: maybe(f.shards?.workerRatio, 2),
    capacityGoodputShare: maybe(f.capacity?.modes[0]?.goodputShare, 3),
    capacityThrottledShare: maybe(f.capacity?.modes[0]?.throttledShare, 3),
    nodeVersionRatio: f.nodeVersions && !('skipped' in f.nodeVersions) ? round(f.nodeVersions.ratio.ratio, 3) : null,
    targets,
    details: f,
  };

  const rows: Row[] = [];
  if (f.queueOverhead) rows.push(...overheadRows(f.queueOverhead, check(targets.queueOverheadRatio.met)));
  if (e2e && f.project && f.naive) {
    const historyPerJob = med(f.project, (r) => r.historyRequestsPerJob) as number;
    rows.push(...endToEndRows(e2e, f.project, f.naive, f.ceiling ?? [], check(targets.backendRequestsRatio.met)));
    rows.push([
      'of which history (BatchWriteItem)',
      historyPerJob.toFixed(3),
      '',
      '',
      `<= 0.10${check(targets.historyRequestsPerJob.met)}`,
    ]);
  }
  if (f.scaling) {
    const s = f.scaling;
    rows.push([
      `Scaling, ${s.latencyMs} ms per call, concurrency ${s.concurrencyPerWorker} each`,
      `1/2/4 workers: ${s.jobsPerSec[1]}/${s.jobsPerSec[2]}/${s.jobsPerSec[4]} jobs/s`,
      `linear: ${s.jobsPerSec[1]}/${2 * (s.jobsPerSec[1] ?? 0)}/${4 * (s.jobsPerSec[1] ?? 0)}`,
      `${fmt.ratio(s.efficiency2)} / ${fmt.ratio(s.efficiency4)}`,
      `>= 0.90 at 4${check(targets.scalingEfficiency4.met)}`,
    ]);
  }
  if (f.latency) {
    const l = f.latency;
    rows.push([
      `Latency at ${l.offeredPerSec} jobs/s for ${l.seconds} s (enqueue→completion)`,
      `p50 ${l.p50} / p95 ${l.p95} / p99 ${l.p99} ms`,
      `max ${l.max} ms, ${l.measuredJobs} jobs`,
      '',
      `p99 <= 25 ms${check(targets.latencyP99Ms.met)}`,
    ]);
    rows.push(...tailRows(l));
  }
  if (f.memory) {
    const m = f.memory;
    rows.push([
      `Worker RSS at start / ${m.checkpoints[0]} / ${m.checkpoints[1]} jobs`,
      `${m.rssStartMB} / ${m.rssAtFirstMB} / ${m.rssAtLastMB} MB`,
      `max ${m.rssMaxMB} MB`,
      fmt.ratio(m.growth),
      `<= 1.20${check(targets.workerRssGrowth.met)}`,
    ]);
    rows.push([
      'Redis used_memory after the run',
      `${m.redisUsedMemoryMB} MB`,
      `${m.redisKeptCompletedJobs} completed jobs kept, ledger ${m.redisLedgerMB} MB`,
      '',
      '(info)',
    ]);
  }
  if (f.producer) {
    const p = f.producer;
    rows.push([
      'Producer enqueue rate',
      `addBulk ${fmt.rate(p.addBulkPerSec)} (tick with ledger ${fmt.rate(p.producerTickPerSec)})`,
      `one add per job ${fmt.rate(p.addPerSec)}`,
      fmt.ratio(p.addBulkPerSec / p.addPerSec),
      '(info)',
    ]);
  }
  if (f.shards) {
    const { one, three } = f.shards;
    const cluster = `(info) loopback Redis Cluster, 3 masters + 3 replicas, one 2-core machine; the 3 shards on ${f.shards.mastersOfThreeShards ?? '?'} master(s)`;
    rows.push([
      `Producer on 3 shards vs 1 (${one.jobs} jobs, median and range of ${f.shards.rounds} pairs)`,
      fmt.rate(three.producerJobsPerSec),
      `1 shard ${fmt.rate(one.producerJobsPerSec)}`,
      `${fmt.ratio(f.shards.producerRatio)} (${fmt.ratio(f.shards.producerRatioRange[0])}–${fmt.ratio(f.shards.producerRatioRange[1])})`,
      cluster,
    ]);
    rows.push([
      'One worker consuming 3 shards vs 1',
      fmt.rate(three.workerJobsPerSec),
      `1 shard ${fmt.rate(one.workerJobsPerSec)}`,
      `${fmt.ratio(f.shards.workerRatio)} (${fmt.ratio(f.shards.workerRatioRange[0])}–${fmt.ratio(f.shards.workerRatioRange[1])})`,
      cluster,
    ]);
  }
  if (f.tracing) {
    const t = f.tracing;
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
  }
  if (f.history) {
    const h = f.history;
    rows.push([
      `Update on a ${h.long.events.toLocaleString('en')}-event user vs a ${h.short.events}-event one (${h.long.updates} each, alternating)`,
      `${h.long.msPerUpdate} ms, ${h.long.readUnitsPerUpdate} RCU`,
      `${h.short.msPerUpdate} ms, ${h.short.readUnitsPerUpdate} RCU`,
      `${fmt.ratio(h.latencyRatio)} / ${fmt.ratio(h.readUnitsRatio)}`,
      `<= 1.20${check(targets.historyCostRatio.met)}`,
    ]);
    rows.push([
      "Redelivery of the long user's 2nd event after all the rest",
      `${h.redelivery.ms} ms, ${h.redelivery.readUnits} RCU`,
      h.redelivery.foundApplied ? 'found applied' : 'NOT FOUND',
      '',
      '(info)',
    ]);
  }
  if (f.hotAggregate) {
    const { serial, contended, share } = f.hotAggregate;
    rows.push([
      `Hot aggregate: ${contended.jobs} updates of one user, ${contended.workers} workers × ${contended.concurrency}`,
      `${fmt.rate(contended.jobsPerSec)}, ${contended.deadLettered} DLQ'd`,
      `serial (1 × 1) ${fmt.rate(serial.jobsPerSec)}`,
      fmt.ratio(share),
      `>= 0.80, 0 DLQ${check(targets.hotAggregateShare.met)}`,
    ]);
    rows.push([
      'Hot aggregate: conflicts per job (lost rounds + put-backs)',
      `${contended.conflictRoundsPerJob} + ${contended.putBacksPerJob}`,
      `serial ${serial.conflictRoundsPerJob} + ${serial.putBacksPerJob}`,
      '',
      contended.verified ? '(info) stream verified' : 'stream NOT verified ✗',
    ]);
  }
  if (f.capacity) rows.push(...capacityRows(f.capacity, check(targets.capacityGoodputShare.met)));
  if (f.nodeVersions) rows.push(...nodeVersionRows(f.nodeVersions));
  const parts = [
    renderTable(
      `Benchmark${quick ? ' (--quick: a smoke run, the figures are not meaningful)' : ''}`,
      ['Measure', 'Project', 'Baseline', 'Ratio', 'Target'],
      rows,
    ),
  ];
  if (f.latency) parts.push(stepsTable(f.latency));
  if (f.roundTrips) parts.push(tripsTable(f.roundTrips));
  if (f.redisCommands) parts.push(redisTable(f.redisCommands));
  if (f.workerProfile) parts.push(profileTable(f.workerProfile));
  return { table: parts.join('\n\n'), json };
}

interface EndToEndPairs {
  jobs: Pairing;
  requests: Pairing;
  capacity: Pairing;
  ceilingRequests?: Pairing;
  ceilingCapacity?: Pairing;
}

function endToEndPairs(f: Figures): EndToEndPairs | undefined {
  const { project, naive, ceiling } = f;
  if (!project?.length || !naive?.length) return undefined;
  const pairs = <B>(other: B[], ratio: (p: ProjectRun, b: B) => number) =>
    medianPair(project.slice(0, other.length).map((p, i) => ratio(p, other[i] as B)));
  // Older results have no capacity units: their ratio is n/a.
  const units = (r: { capacityUnitsPerSec?: number }) => r.capacityUnitsPerSec ?? Number.NaN;
  return {
    jobs: pairs(naive, (p, n) => p.jobsPerSec / n.jobsPerSec),
    requests: pairs(naive, (p, n) => p.requestsPerSec / n.requestsPerSec),
    capacity: pairs(naive, (p, n) => units(p) / units(n)),
    ...(ceiling?.length
      ? {
          ceilingRequests: pairs(ceiling, (p, c) => p.requestsPerSec / c.requestsPerSec),
          ceilingCapacity: pairs(ceiling, (p, c) => units(p) / units(c)),
        }
      : {}),
  };
}

function endToEndRows(
  e: EndToEndPairs,
  project: ProjectRun[],
  naive: BaselineRun[],
  ceiling: CeilingRun[],
  requestsMet: string,
): Row[] {
  const spread = (p: Pairing) => `${fmt.ratio(p.ratio)} (${fmt.ratio(p.range[0])}–${fmt.ratio(p.range[1])})`;
  const at = <T>(runs: T[], p: Pairing) => runs[p.round] as T;
  const units = (v: number | undefined) => (v === undefined ? 'n/a' : `${Math.round(v).toLocaleString('en-US')} CU/s`);
  const rows: Row[] = [
    [
      `End to end on dynalite (${project[0]?.jobs} jobs, default mix; median pair of ${project.length}, range)`,
      fmt.rate(at(project, e.jobs).jobsPerSec),
      `naive PutItem ${fmt.rate(at(naive, e.jobs).jobsPerSec)}`,
      spread(e.jobs),
      '(info)',
    ],
    [
      'DynamoDB requests/s',
      fmt.rate(at(project, e.requests).requestsPerSec),
      `naive ${fmt.rate(at(naive, e.requests).requestsPerSec)}`,
      spread(e.requests),
      `>= 0.90${requestsMet}`,
    ],
    [
      'DynamoDB capacity units/s (read + write)',
      units(at(project, e.capacity).capacityUnitsPerSec),
      `naive ${units(at(naive, e.capacity).capacityUnitsPerSec)}`,
      spread(e.capacity),
      '(info)',
    ],
    [
      'DynamoDB requests, capacity units per job',
      `${(median(project.map((r) => r.requestsPerJob)) as number).toFixed(2)}, ${(median(project.map((r) => r.capacityUnitsPerJob ?? Number.NaN)) as number).toFixed(2)}`,
      'naive 1.00, 1.00',
      '',
      '(info)',
    ],
  ];
  if (e.ceilingRequests && e.ceilingCapacity) {
    rows.push([
      'Share of the backend ceiling: requests/s',
      fmt.rate(at(project, e.ceilingRequests).requestsPerSec),
      `tight PutItem loop ${fmt.rate(at(ceiling, e.ceilingRequests).requestsPerSec)}`,
      spread(e.ceilingRequests),
      '(info)',
    ]);
    rows.push([
      'Share of the backend ceiling: capacity units/s',
      units(at(project, e.ceilingCapacity).capacityUnitsPerSec),
      `tight PutItem loop ${units(at(ceiling, e.ceilingCapacity).capacityUnitsPerSec)}`,
      spread(e.ceilingCapacity),
      '(info)',
    ]);
  }
  return rows;
}

/** Where the latency tail comes from (older results lack these figures). */
function tailRows(l: LatencyResult): Row[] {
  const rows: Row[] = [];
  if (l.split) {
    const { all, slowest1pct: slow } = l.split;
    rows.push([
      'Latency: median wait in the queue + processing, slowest 1% of jobs',
      `${slow.waitMs} + ${slow.processingMs} ms (${slow.jobs} jobs)`,
      `all jobs ${all.waitMs} + ${all.processingMs} ms`,
      '',
      '(info)',
    ]);
  }
  if (l.dynamoCallMs) {
    const d = l.dynamoCallMs;
    rows.push([
      'Latency: DynamoDB calls (dynalite)',
      `p50 ${d.p50} / p99 ${d.p99} ms`,
      `max ${d.max} ms`,
      '',
      '(info)',
    ]);
  }
  if (l.runtime) {
    const { eventLoopDelayMs: loop, gc } = l.runtime;
    rows.push([
      'Latency: worker event-loop delay',
      `p50 ${loop.p50} / p99 ${loop.p99} ms`,
      `max ${loop.max} ms`,
      '',
      '(info)',
    ]);
    rows.push([
      'Latency: worker GC pauses',
      `${gc.count}, ${gc.totalMs} ms in all (${(gc.shareOfWall * 100).toFixed(1)}% of the time)`,
      `longest ${gc.maxMs} ms, ${gc.over10ms} of ≥ 10 ms`,
      '',
      '(info)',
    ]);
  }
  return rows;
}

/** Every figure of a row comes from the one round whose ratio is the median; the range is over all rounds. */
function overheadRows(q: QueueOverheadResult, met: string): Row[] {
  const spread = (p: Pairing) => `${fmt.ratio(p.ratio)} (${fmt.ratio(p.range[0])}–${fmt.ratio(p.range[1])})`;
  const pair = (p: Pairing) => q.rounds[p.round] as OverheadRound;
  const cpu = (r: OverheadRun) => `${r.nodeMicros} + ${r.redisMicros} µs`;
  const rounds = `median pair of ${q.rounds.length}, range`;
  return [
    [
      `Queue overhead (in-memory store, ${q.jobs} jobs, same job options; ${rounds})`,
      fmt.rate(pair(q.ratio).project.jobsPerSec),
      `raw BullMQ no-op ${fmt.rate(pair(q.ratio).raw.jobsPerSec)}`,
      spread(q.ratio),
      `>= 0.80${met}`,
    ],
    [
      'Against raw BullMQ with removeOnComplete: true',
      fmt.rate(pair(q.ratioToFastest).project.jobsPerSec),
      `raw, removeOnComplete ${fmt.rate(pair(q.ratioToFastest).rawRemove.jobsPerSec)}`,
      spread(q.ratioToFastest),
      '(info)',
    ],
    [
      'CPU per job: worker process + Redis (raw ÷ project)',
      cpu(pair(q.cpuRatio).project),
      `raw ${cpu(pair(q.cpuRatio).raw)}`,
      spread(q.cpuRatio),
      '(info)',
    ],
    [
      'Keeping completed jobs (by age and count) vs removing them: CPU per job',
      `+${q.retentionMicrosPerJob.project.node} + ${q.retentionMicrosPerJob.project.redis} µs`,
      `raw +${q.retentionMicrosPerJob.raw.node} + ${q.retentionMicrosPerJob.raw.redis} µs`,
      '',
      '(info) worker + Redis, median of rounds',
    ],
  ];
}

function maybe(value: number | undefined, digits: number): number | null {
  return value === undefined ? null : round(value, digits);
}

/** The steps of a job in the order they run, with the label the table and the chart give them. */
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

function stepsTable(latency: LatencyResult): string {
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

function tripsTable(trips: Record<string, OperationTrips>): string {
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

function redisTable(r: RedisCommandsResult): string {
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

function profileTable(p: WorkerProfileResult): string {
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

/** The capacity section: three ways of meeting throttling with 4 workers, then 1 and 8 with flow control. */
function capacityRows(c: CapacitySection, flowCheck: string): Row[] {
  const pct = (share: number) => `${Math.round(share * 1000) / 10}%`;
  const describe = (r: CapacitySection['modes'][number]) =>
    `goodput ${fmt.ratio(r.goodputShare)} of C, ${pct(r.throttledShare)} throttled, ${r.deadLetteredByThrottling} DLQ'd by throttling`;
  const label: Record<string, string> = {
    'flow-control': 'flow control',
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
    i === 0 ? `>= 0.85, <= 10%, 0${flowCheck}` : '(info)',
  ]);
  for (const r of c.scaling) {
    rows.push([`  flow control, ${r.workers} worker(s)`, describe(r), fmt.rate(r.jobsPerSecond), '', '(info)']);
  }
  return rows;
}

/** Raw BullMQ on the bench's Node against Node 20 (the project cannot run there; BullMQ can). */
function nodeVersionRows(n: NodeVersionsResult): Row[] {
  if ('skipped' in n)
    return [["Raw BullMQ no-op worker, Node 20 vs the bench's Node", 'skipped', n.skipped, '', '(info)']];
  const spread = (p: Pairing) => `${fmt.ratio(p.ratio)} (${fmt.ratio(p.range[0])}–${fmt.ratio(p.range[1])})`;
  const pair = (p: Pairing) => n.pairs[p.round] as NodeVersionPair;
  return [
    [
      `Raw BullMQ no-op worker on Node ${n.current.version} vs ${n.node20.version} (${n.jobs} jobs; median pair of ${n.pairs.length}, range)`,
      fmt.rate(pair(n.ratio).current.jobsPerSec),
      `Node 20 ${fmt.rate(pair(n.ratio).node20.jobsPerSec)}`,
      spread(n.ratio),
      '(info) child process, same job options',
    ],
    [
      'Its worker CPU per job (current ÷ Node 20)',
      `${pair(n.cpuRatio).current.cpuMicrosPerJob} µs`,
      `Node 20 ${pair(n.cpuRatio).node20.cpuMicrosPerJob} µs`,
      spread(n.cpuRatio),
      '(info)',
    ],
  ];
}
