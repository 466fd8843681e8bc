// The table's rows about load: throughput by worker count, latency and where its tail comes from,
// memory, the producer's enqueue rate, and sharding.
import { fmt } from '../../charts/table.js';
import type { Row } from '../report.js';
import type { ProcessCpu } from '../runtime-stats.js';
import type { LatencyResult } from '../sections/latency.js';
import type { MemoryResult } from '../sections/memory.js';
import type { ProducerResult } from '../sections/producer.js';
import type { ScalingResult } from '../sections/scaling.js';
import type { ShardsResult } from '../sections/shards.js';

/** Jobs per second at 1, 2 and 4 workers against linear scaling. */
export function scalingRows(s: ScalingResult, met: string): Row[] {
  const rows: Row[] = [];
  rows.push([
    `Scaling, ${s.latencyMs} ms per call, concurrency ${s.concurrencyPerWorker} each`,
    `1/2/4 workers: ${s.jobsPerSec[1]}/${s.jobsPerSec[2]}/${s.jobsPerSec[4]} jobs/s`,
    `linear: ${s.jobsPerSec[1]}/${2 * (s.jobsPerSec[1] ?? 0)}/${4 * (s.jobsPerSec[1] ?? 0)}`,
    `${fmt.ratio(s.efficiency2)} / ${fmt.ratio(s.efficiency4)}`,
    `>= 0.90 at 4${met}`,
  ]);
  return rows;
}

/** Enqueue→completion latency at an unsaturated rate, then its tail's sources. */
export function latencyRows(l: LatencyResult, met: string, ownMet: string): Row[] {
  const rows: Row[] = [];
  rows.push([
    `Latency at ${l.offeredPerSec} jobs/s for ${l.seconds} s (enqueue→completion)`,
    `p50 ${l.p50} / p95 ${l.p95} / p99 ${l.p99} ms`,
    `max ${l.max} ms, ${l.measuredJobs} jobs${l.failedJobs ? ` (${l.failedJobs} more failed for good, not measured)` : ''}`,
    '',
    `p99 <= 25 ms${met}`,
  ]);
  if (l.ownMs)
    rows.push([
      `Latency: the project's own time per job at ${l.offeredPerSec} jobs/s (enqueue→completion less its DynamoDB time)`,
      `p50 ${l.ownMs.p50} / p99 ${l.ownMs.p99} ms`,
      `max ${l.ownMs.max} ms; in DynamoDB p50 ${l.ownMs.dynamoP50} / p99 ${l.ownMs.dynamoP99} ms`,
      '',
      `p99 <= 10 ms${ownMet}`,
    ]);
  rows.push(...tailRows(l));
  return rows;
}

/** A distribution's p50, p99 and max, in ms. */
function percentilesRow(measure: string, ms: { p50: number; p99: number; max: number }): Row {
  return [measure, `p50 ${ms.p50} / p99 ${ms.p99} ms`, `max ${ms.max} ms`, '', '(info)'];
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
  if (l.dynamoCallMs) rows.push(percentilesRow('Latency: DynamoDB calls (dynalite)', l.dynamoCallMs));
  if (l.mutexWaits) {
    const m = l.mutexWaits;
    rows.push([
      "Latency: writers' waits for their user's turn (worker's KeyedMutex)",
      `${m.waited1ms} of ${m.runs} turns waited ≥ 1 ms`,
      `p99 ${m.p99Ms} / max ${m.maxMs} ms${l.ownMs?.lessTurnWaitsP99 === undefined ? '' : `; own time p99 less them ${l.ownMs.lessTurnWaitsP99} ms`}`,
      '',
      '(info)',
    ]);
  }
  if (l.runtime) {
    const { eventLoopDelayMs: loop, gc } = l.runtime;
    const where = l.placement === 'child' ? 'a process of its own' : 'in the bench process, beside the producer';
    rows.push(percentilesRow(`Latency: worker (${where}) event-loop delay`, loop));
    rows.push([
      'Latency: worker GC pauses',
      `${gc.count}, ${gc.totalMs} ms in all (${(gc.shareOfWall * 100).toFixed(1)}% of the time)`,
      `longest ${gc.maxMs} ms, ${gc.over10ms} of ≥ 10 ms`,
      '',
      '(info)',
    ]);
    rows.push(...cpuRows('worker', l.runtime));
  }
  if (l.benchRuntime && l.placement === 'child') rows.push(...cpuRows('bench (producer)', l.benchRuntime));
  if (l.dynalite) rows.push(...cpuRows('dynalite', l.dynalite));
  return rows;
}

/** A process's CPU over the window, and how long its main thread waited for a core (Linux). */
function cpuRows(who: string, r: ProcessCpu): Row[] {
  if (r.cpuShareOfWall === undefined) return [];
  const pct = (share: number) => `${(share * 100).toFixed(0)}%`;
  const thread = r.mainThread
    ? `main thread on a core ${pct(r.mainThread.runShareOfWall)}, waiting for one ${pct(r.mainThread.waitShareOfWall)} of the time`
    : '';
  return [[`Latency: ${who} process CPU (all threads)`, `${pct(r.cpuShareOfWall)} of a core`, thread, '', '(info)']];
}

/** Worker RSS as jobs go by, and what Redis holds after the run. */
export function memoryRows(m: MemoryResult, met: string): Row[] {
  const rows: Row[] = [];
  rows.push([
    `Worker RSS at start / ${m.checkpoints[0]} / ${m.checkpoints[1]} jobs`,
    `${m.rssStartMB} / ${m.rssAtFirstMB} / ${m.rssAtLastMB} MB`,
    `max ${m.rssMaxMB} MB`,
    fmt.ratio(m.growth),
    `<= 1.20${met}`,
  ]);
  rows.push([
    'Redis used_memory after the run',
    `${m.redisUsedMemoryMB} MB`,
    `${m.redisKeptCompletedJobs} completed jobs kept, ledger ${m.redisLedgerMB} MB`,
    '',
    '(info)',
  ]);
  return rows;
}

/** One addBulk per tick against one add per job. */
export function producerRows(p: ProducerResult): Row[] {
  const rows: Row[] = [];
  rows.push([
    'Producer enqueue rate',
    `addBulk ${fmt.rate(p.addBulkPerSec)} (tick with ledger ${fmt.rate(p.producerTickPerSec)})`,
    `one add per job ${fmt.rate(p.addPerSec)}`,
    fmt.ratio(p.addBulkPerSec / p.addPerSec),
    '(info)',
  ]);
  return rows;
}

/** Producer and one worker on 3 shards of a Redis Cluster against 1. */
export function shardsRows(shards: ShardsResult): Row[] {
  const rows: Row[] = [];
  const { one, three } = shards;
  const cluster = `(info) loopback Redis Cluster, 3 masters + 3 replicas, one 2-core machine; the 3 shards on ${shards.mastersOfThreeShards ?? '?'} master(s)`;
  rows.push([
    `Producer on 3 shards vs 1 (${one.jobs} jobs, median and range of ${shards.rounds} pairs)`,
    fmt.rate(three.producerJobsPerSec),
    `1 shard ${fmt.rate(one.producerJobsPerSec)}`,
    `${fmt.ratio(shards.producerRatio)} (${fmt.ratio(shards.producerRatioRange[0])}–${fmt.ratio(shards.producerRatioRange[1])})`,
    cluster,
  ]);
  rows.push([
    'One worker consuming 3 shards vs 1',
    fmt.rate(three.workerJobsPerSec),
    `1 shard ${fmt.rate(one.workerJobsPerSec)}`,
    `${fmt.ratio(shards.workerRatio)} (${fmt.ratio(shards.workerRatioRange[0])}–${fmt.ratio(shards.workerRatioRange[1])})`,
    cluster,
  ]);
  return rows;
}
