// The results table (docs/results.md "Reliability" section and the runner's output). Run on its own, it
// renders a saved run: `npx tsx chaos/table.ts chaos/results/latest.json`.
import { readFileSync } from 'node:fs';
import { fmt, markdownTable } from '../charts/table.js';
import type { ScenarioResult } from './scenario.js';

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
    fmt.seconds(r.durationMs),
    r.passed ? 'pass' : 'FAIL',
  ]);
  return markdownTable(header, body);
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const file = process.argv[2] ?? 'chaos/results/latest.json';
  process.stdout.write(`${renderTable(JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult[])}\n`);
}
