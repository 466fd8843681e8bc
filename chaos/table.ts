// The results table (docs/results.md "Reliability" section and the runner's output). Run on its own, it
// renders a saved run: `npx tsx chaos/table.ts chaos/results/latest.json`.
import { readFileSync } from 'node:fs';
import type { ScenarioResult } from './scenario.js';

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The README table: one row per scenario. */
export function renderTable(rows: readonly ScenarioResult[]): string {
  const header = [
    'scenario',
    'jobs',
    'faults injected',
    'lost',
    'duplicated',
    'mismatches',
    'dead-lettered',
    'duration',
    'result',
  ];
  const body = rows.map((r) => [
    r.scenario,
    String(r.enqueued),
    r.faultSummary,
    String(r.lost),
    String(r.duplicated),
    String(r.projectionMismatches),
    String(r.deadLettered),
    seconds(r.durationMs),
    r.passed ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const file = process.argv[2] ?? 'chaos/results/latest.json';
  process.stdout.write(`${renderTable(JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult[])}\n`);
}
