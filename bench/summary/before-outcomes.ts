// What deciding outcomes in DynamoDB (issue 19) costs per job: this run's figures against the last
// commit before the change, whose figures are recorded here. The old path cannot run beside the new
// one in one process (its worker, ledger and stores differ throughout), so "before" is a constant:
// commit b25473c's own bench run on this machine with this bench's DynamoDB counter
// (bench/dynamo-units.ts) copied in, its product code untouched; docs/results-outcomes.md says how.
import { fmt } from '../../charts/table.js';
import { ITEM_KINDS, type ItemKind } from '../dynamo-units.js';
import type { Row } from '../report.js';
import type { ProjectRun } from '../sections/end-to-end.js';
import type { RedisCommandsResult } from '../sections/redis-commands.js';
import { check, medianOf } from './figures.js';

export const BEFORE_OUTCOMES = {
  commit: 'b25473c',
  measured:
    '2026-12-07 03:26 UTC, load average 13 on 2 cores: e2e 3 × 4,000 jobs (median of each figure), commands 2,000 jobs at 200 jobs/s',
  /** Per job, every DynamoDB call (before the change the producer wrote nothing to DynamoDB). */
  dynamo: {
    requests: 2.707,
    readRequests: 0.962,
    writeRequests: 1.756,
    readUnits: 0.892,
    writeUnits: 3.109,
    indexWriteUnits: 0.791,
    failedConditions: 0,
  },
  /** Requests per job by kind of item (dynamo-units.ts). */
  requestsByKind: { event: 1.153, head: 1.393, history: 0.059, query: 0.103 } as Partial<Record<ItemKind, number>>,
  redisRoundTripsPerJob: 6.13,
} as const;

/** Issue 19: "at most one extra DynamoDB write per job" on the happy path (write units, table). */
export const EXTRA_WRITE_UNITS_ALLOWED = 1;

const per = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(2));
const ratio = (now: number | undefined, before: number) =>
  now === undefined || Number.isNaN(before) || before === 0 ? '' : fmt.ratio(now / before);

/** The median over the project's rounds of one per-job figure (undefined in results without it). */
function perJobMedian(project: ProjectRun[], key: keyof NonNullable<ProjectRun['perJob']>): number | undefined {
  if (!project.every((r) => r.perJob)) return undefined;
  return medianOf(project, (r) => r.perJob?.[key] as number);
}

/** Whether this run's write units per job stay within the one extra write issue 19 allows. */
export function extraWritesMet(project: ProjectRun[] | undefined): boolean | undefined {
  const now = project ? perJobMedian(project, 'writeUnits') : undefined;
  const before = BEFORE_OUTCOMES.dynamo.writeUnits;
  if (now === undefined || Number.isNaN(before)) return undefined;
  return now - before <= EXTRA_WRITE_UNITS_ALLOWED + 1e-9;
}

export function beforeAfterRows(project: ProjectRun[]): Row[] {
  const before = BEFORE_OUTCOMES.dynamo;
  const now = (key: keyof NonNullable<ProjectRun['perJob']>) => perJobMedian(project, key);
  const tick = project[0]?.acceptTickJobs ?? 0;
  const row = (
    what: string,
    key: 'requests' | 'readUnits' | 'writeUnits' | 'indexWriteUnits' | 'failedConditions',
    target = '(info)',
  ): Row => [
    what,
    per(now(key)),
    `${BEFORE_OUTCOMES.commit} ${per(before[key])}`,
    ratio(now(key), before[key]),
    target,
  ];
  const option = project.map((r) => r.outcomeWriteOfWriteJobs).filter((o) => o !== undefined);
  const saving = option.length === project.length ? option : [];
  const kinds = (byKind: (kind: ItemKind) => number | undefined) =>
    ITEM_KINDS.flatMap((kind) => {
      const n = byKind(kind);
      return n === undefined || n === 0 ? [] : [`${kind} ${n.toFixed(2)}`];
    }).join(', ');
  const rows: Row[] = [
    row(
      `Per job, before → now: DynamoDB requests (every call: acceptance in ticks of ${tick}, worker, decision, history)`,
      'requests',
    ),
    [
      '… requests by item',
      kinds((kind) =>
        project.every((r) => r.perJob) ? medianOf(project, (r) => r.perJob?.byKind[kind]?.requests ?? 0) : undefined,
      ),
      kinds((kind) => BEFORE_OUTCOMES.requestsByKind[kind]),
      '',
      '(info)',
    ],
    row('… read units (as dynalite reports them: table, by item size)', 'readUnits'),
    row(
      '… write units (as dynalite reports them)',
      'writeUnits',
      `issue 19: <= +${EXTRA_WRITE_UNITS_ALLOWED}${check(extraWritesMet(project))}`,
    ),
    row('… index write units DynamoDB adds (estimated from the items; dynalite charges none)', 'indexWriteUnits'),
    row('… writes refused by their condition (DynamoDB charges ≥ 1 WCU each; dynalite none)', 'failedConditions'),
  ];
  if (saving.length > 0) {
    const med = (key: 'requests' | 'writeUnits' | 'indexWriteUnits' | 'writeJobShare') =>
      medianOf(saving, (o) => o[key]) as number;
    rows.push([
      "Option, not done: no OUTCOME write for write jobs (completed = the job's event linked)",
      `−${per(med('requests'))} requests, −${per(med('writeUnits'))} + ${per(med('indexWriteUnits'))} index WCU`,
      `write jobs ${Math.round(med('writeJobShare') * 100)}% of the mix`,
      '',
      '(info) docs/results-outcomes.md',
    ]);
  }
  return rows;
}

/** Redis round trips per job (the commands section) against the recorded figure before the change. */
export function redisBeforeAfterRow(redis: RedisCommandsResult): Row {
  return [
    'Per job, before → now: Redis round trips (commands section)',
    per(redis.roundTripsPerJob),
    `${BEFORE_OUTCOMES.commit} ${per(BEFORE_OUTCOMES.redisRoundTripsPerJob)}`,
    ratio(redis.roundTripsPerJob, BEFORE_OUTCOMES.redisRoundTripsPerJob),
    '(info)',
  ];
}
