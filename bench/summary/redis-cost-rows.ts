// The table's rows about what Redis spends: an idle fleet's commands per second, and (redis-cost)
// the Redis work per job of the project beside raw BullMQ with the same job options.
import { renderTable } from '../../charts/table.js';
import { issuersOf, scriptCommandIndex } from '../redis-calls.js';
import type { Row } from '../report.js';
import type { IdleFleetResult } from '../sections/idle-fleet.js';
import type { Load, RedisCostResult } from '../sections/redis-cost.js';
import { median } from '../support.js';
import { check, spread } from './figures.js';

export function idleFleetRows(r: IdleFleetResult): Row[] {
  const med = (pick: (round: IdleFleetResult['rounds'][number]) => number) => median(r.rounds.map(pick)) as number;
  return [
    [
      `Idle fleet: Redis commands/s, 8 workers vs 1 (${r.seconds} s each, ${r.rounds.length} pair(s))`,
      med((x) => x.eight.commandsPerSec).toFixed(1),
      `1 worker ${med((x) => x.one.commandsPerSec).toFixed(1)}`,
      spread(r.ratio),
      `<= 1.5${check(r.ratio.ratio <= 1.5)}`,
    ],
  ];
}

const LOAD_LABEL: Record<Load, string> = { rate: 'at 200 jobs/s', saturation: 'at saturation' };

/** The pair a load's figures come from: the one whose Redis µs ratio is the median. */
const medianRun = (r: RedisCostResult, load: Load) =>
  (r.pairs[r.microsRatio[load].round] as RedisCostResult['pairs'][number])[load];

export function redisCostRows(r: RedisCostResult): Row[] {
  const rows: Row[] = [];
  for (const load of ['rate', 'saturation'] as const) {
    // The figures of the pair whose Redis µs ratio is the median; each ratio's range covers every pair.
    const { raw, project } = medianRun(r, load);
    const label = load === 'rate' ? `at ${r.offeredPerSec} jobs/s` : LOAD_LABEL[load];
    const pairs = `${r.pairs.length} pair(s) of ${raw.jobs} jobs`;
    rows.push([
      `Redis µs per job ${label} (commandstats), vs raw BullMQ, same options (${pairs})`,
      project.redisMicros.toFixed(0),
      `raw ${raw.redisMicros.toFixed(0)}`,
      spread(r.microsRatio[load]),
      `<= 1.5${check(r.microsRatio[load].ratio <= 1.5)}`,
    ]);
    rows.push([
      `Redis process CPU µs per job ${label} (INFO cpu), vs raw BullMQ`,
      String(project.redisCpuMicros),
      `raw ${raw.redisCpuMicros}`,
      spread(r.cpuRatio[load]),
      `<= 1.5${check(r.cpuRatio[load].ratio <= 1.5)}`,
    ]);
    rows.push([
      `Round trips per job ${label} (project − raw)`,
      project.roundTrips.toFixed(2),
      `raw ${raw.roundTrips.toFixed(2)}`,
      `+${r.extraRoundTrips[load].ratio} (${r.extraRoundTrips[load].range[0]}–${r.extraRoundTrips[load].range[1]})`,
      `<= +1${check(r.extraRoundTrips[load].ratio <= 1)}`,
    ]);
    rows.push([
      `Redis commands run / requests sent per job ${label}`,
      `${project.serverCommands.toFixed(1)} / ${project.requests.toFixed(2)}`,
      `raw ${raw.serverCommands.toFixed(1)} / ${raw.requests.toFixed(2)}`,
      '',
      `(info) ${project.jobsPerSec} vs ${raw.jobsPerSec} jobs/s`,
    ]);
  }
  return rows;
}

/** Every Redis call of a job at the offered rate (the median pair): what was sent, what Redis ran, and who issues it. */
export function redisCallsTable(r: RedisCostResult): string {
  const { raw, project } = medianRun(r, 'rate');
  const index = scriptCommandIndex();
  const per = (n: number | undefined) => (n ?? 0).toFixed(3);
  const sentNames = [...new Set([...Object.keys(project.requestsByName), ...Object.keys(raw.requestsByName)])];
  const sent = sentNames.map((name) => [
    `sent: ${name}`,
    per(raw.requestsByName[name]),
    per(project.requestsByName[name]),
    '',
    index.has(name) ? 'Lua script (EVALSHA)' : 'plain command',
  ]);
  const commands = [...new Set([...Object.keys(project.byCommand), ...Object.keys(raw.byCommand)])];
  const run = commands.map((name) => [
    `run: ${name}`,
    per(raw.byCommand[name]?.calls),
    per(project.byCommand[name]?.calls),
    (project.byCommand[name]?.usec ?? 0).toFixed(1),
    issuersOf(name, project.requestsByName, index).join(', '),
  ]);
  return renderTable(
    `Every Redis call per job at ${r.offeredPerSec} jobs/s, raw BullMQ (same options) and the project: ` +
      `sent by the clients (a script once, by name), then run by Redis (scripts' own commands included, ` +
      `so a script's µs holds its commands' µs), with the scripts of the project's run that can issue each`,
    ['Call', 'Raw per job', 'Project per job', 'Project µs per job', 'Issued by (project)'],
    [...sent, ...run],
  );
}
