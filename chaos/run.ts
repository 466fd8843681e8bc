// `npm run chaos [-- --json] [--only <scenario>[,<scenario>…]] [--small]`: runs each scenario on
// its own Redis, dynalite and processes, prints a table (or, with --json, one JSON array last on
// stdout) and exits 1 if any scenario lost, duplicated or mismatched anything or missed its own
// expectations. A full run (no --small, no --only) also saves chaos/results/latest.json and redraws
// docs/charts. Everything started is stopped at the end, also on failure and Ctrl-C.
import '../shared/runtime/node-version.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { chaosCharts } from '../charts/chaos.js';
import { CHAOS_RESULTS, writeCharts } from '../charts/main.js';
import { fmt } from '../charts/table.js';
import { scriptFlags } from '../devtools/script-flags.js';
import { parseFlags } from '../shared/runtime/flags.js';
import { killTracked } from './processes.js';
import type { ScenarioResult } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';
import { onProgress } from './stack.js';
import { renderTable } from './table.js';

const CHAOS_USAGE = `Usage: npm run chaos [-- --json] [--only <scenario>[,…]] [--small]

Runs each scenario on its own Redis, dynalite and processes and checks that nothing was lost or
applied twice; exit 1 if any scenario missed. A full run takes many minutes.

Options:
  --only LIST   only these scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}
  --small       fewer jobs per scenario (a quicker run)
  --json        one JSON array last on stdout (progress on stderr)
  -h, --help    this help

Example:
  npm run chaos -- --only kill-workers,poison --small`;

const values = scriptFlags(
  'chaos',
  CHAOS_USAGE,
  () =>
    parseFlags({
      args: process.argv.slice(2),
      options: {
        json: { type: 'boolean', default: false },
        small: { type: 'boolean', default: false },
        only: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values,
);

const only = new Set((values.only ?? []).flatMap((o) => o.split(',')).filter(Boolean));
const unknown = [...only].filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown scenario(s): ${unknown.join(', ')} (known: ${SCENARIOS.map((s) => s.name).join(', ')})\n`,
  );
  process.exit(2);
}
const chosen = SCENARIOS.filter((s) => only.size === 0 || only.has(s.name));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    const killed = killTracked();
    process.stderr.write(`\n${signal}: stopped ${killed} process(es) the chaos run had started\n`);
    process.exit(130);
  });
}

const log = (line: string) => process.stderr.write(`${line}\n`);
onProgress(log);

const results: ScenarioResult[] = [];
for (const entry of chosen) {
  const size = values.small ? entry.small : entry.full;
  log(`▶ ${entry.name} (${size})`);
  const startedAt = performance.now();
  try {
    const r = await entry.run(size);
    results.push(r);
    for (const e of r.expectations.filter((x) => !x.passed)) log(`  ✗ ${e.name}${e.detail ? `: ${e.detail}` : ''}`);
    log(`${r.passed ? '✓' : '✗'} ${entry.name}: ${r.passed ? 'passed' : 'FAILED'} in ${fmt.seconds(r.durationMs)}`);
  } catch (error) {
    // A scenario that throws is a failed row, not the end of the run: the others still tell us something.
    killTracked();
    log(`✗ ${entry.name} threw: ${(error as Error).stack ?? String(error)}`);
    results.push(failedResult(entry.name, size, error, performance.now() - startedAt));
  }
}

const table = renderTable(results);
if (values.json) {
  log(table);
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
} else process.stdout.write(`${table}\n`);
// A full run (every scenario at full size) is the one the README shows: save it and redraw its charts.
if (!values.small && only.size === 0) {
  mkdirSync(dirname(CHAOS_RESULTS), { recursive: true });
  writeFileSync(CHAOS_RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  log(`Wrote ${CHAOS_RESULTS}`);
  for (const chart of writeCharts(chaosCharts(results))) log(`Wrote ${chart}`);
}
const failed = results.filter((r) => !r.passed);
log(failed.length === 0 ? 'All scenarios passed.' : `FAILED: ${failed.map((r) => r.scenario).join(', ')}`);
process.exit(failed.length === 0 ? 0 : 1);

function failedResult(scenario: string, size: number, error: unknown, durationMs: number): ScenarioResult {
  return {
    scenario,
    size,
    enqueued: 0,
    completed: 0,
    deadLettered: 0,
    purged: 0,
    pending: 0,
    lost: 0,
    duplicated: 0,
    projectionMismatches: 0,
    deadLettersWithoutReason: 0,
    faults: {},
    faultSummary: 'scenario threw',
    expectations: [{ name: 'scenario ran to the end', passed: false, detail: (error as Error).message }],
    passed: false,
    durationMs: Math.round(durationMs),
    error: (error as Error).message,
  };
}
