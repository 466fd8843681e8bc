// Turns the measurements into the headline figures (the JSON's top level), the targets they are
// held to, and the tables printed at the end of a run. Each section's rows live with their concern:
// paired-rows.ts, load-rows.ts, feature-rows.ts, detail-tables.ts.
import { renderTable } from '../../charts/table.js';
import type { Row } from '../report.js';
import { beforeAfterRows, redisBeforeAfterRow } from './before-outcomes.js';
import { profileTable, redisTable, stepsTable, tripsTable } from './detail-tables.js';
import { capacityRows, historyRows, hotAggregateRows, searchRows, tracingRows } from './feature-rows.js';
import { check, type EndToEndPairs, endToEndPairs, type Figures, medianOf } from './figures.js';
import { latencyRows, memoryRows, producerRows, scalingRows, shardsRows } from './load-rows.js';
import { endToEndRows, nodeVersionRows, overheadRows } from './paired-rows.js';
import { idleFleetRows, redisCallsTable, redisCostRows } from './redis-cost-rows.js';
import { headline, type Targets, targetsOf } from './targets.js';

export type { Figures } from './figures.js';

export function summarise(f: Figures, quick: boolean) {
  const e2e = endToEndPairs(f);
  const targets = targetsOf(f, e2e);
  const rows = mainRows(f, e2e, targets);
  const smoke = quick ? ' (--quick: a smoke run, the figures are not meaningful)' : '';
  // A run of sections with tables of their own only (--only=latency) has no rows here: no empty table.
  const parts =
    rows.length > 0
      ? [renderTable(`Benchmark${smoke}`, ['Measure', 'Project', 'Baseline', 'Ratio', 'Target'], rows)]
      : smoke
        ? [smoke.trim()]
        : [];
  if (f.latency) parts.push(stepsTable(f.latency));
  if (f.roundTrips) parts.push(tripsTable(f.roundTrips));
  if (f.redisCommands) parts.push(redisTable(f.redisCommands));
  if (f.redisCost) parts.push(redisCallsTable(f.redisCost));
  if (f.workerProfile) parts.push(profileTable(f.workerProfile));
  return { table: parts.join('\n\n'), json: headline(f, e2e, targets) };
}

/** The main table: one group of rows per section that ran, in the order the bench runs them. */
function mainRows(f: Figures, e2e: EndToEndPairs | undefined, targets: Targets): Row[] {
  const rows: Row[] = [];
  if (f.queueOverhead) rows.push(...overheadRows(f.queueOverhead, check(targets.queueOverheadRatio.met)));
  if (e2e && f.project && f.naive) {
    rows.push(...endToEndRows(e2e, f.project, f.naive, f.ceiling ?? [], check(targets.backendRequestsRatio.met)));
    const historyPerJob = medianOf(f.project, (r) => r.historyRequestsPerJob) as number;
    rows.push([
      'of which history (BatchWriteItem)',
      historyPerJob.toFixed(3),
      '',
      '',
      `<= 0.10${check(targets.historyRequestsPerJob.met)}`,
    ]);
  }
  if (f.project?.length) rows.push(...beforeAfterRows(f.project));
  if (f.redisCommands) rows.push(redisBeforeAfterRow(f.redisCommands));
  if (f.scaling) rows.push(...scalingRows(f.scaling, check(targets.scalingEfficiency4.met)));
  if (f.latency)
    rows.push(...latencyRows(f.latency, check(targets.latencyP99Ms.met), check(targets.ownLatencyP99Ms.met)));
  if (f.memory) rows.push(...memoryRows(f.memory, check(targets.workerRssGrowth.met)));
  if (f.producer) rows.push(...producerRows(f.producer));
  if (f.shards) rows.push(...shardsRows(f.shards));
  if (f.tracing) rows.push(...tracingRows(f.tracing));
  if (f.history) rows.push(...historyRows(f.history, check(targets.historyCostRatio.met)));
  if (f.hotAggregate) rows.push(...hotAggregateRows(f.hotAggregate, check(targets.hotAggregateShare.met)));
  if (f.capacity) rows.push(...capacityRows(f.capacity, check(targets.capacityGoodputShare.met)));
  if (f.nodeVersions) rows.push(...nodeVersionRows(f.nodeVersions));
  if (f.redisCost) rows.push(...redisCostRows(f.redisCost));
  if (f.idleFleet) rows.push(...idleFleetRows(f.idleFleet));
  if (f.search) rows.push(...searchRows(f.search));
  return rows;
}
