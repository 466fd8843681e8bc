// `npm run charts`: redraws docs/charts/*.svg from the saved results (bench/results/latest.json,
// chaos/results/latest.json) without running anything. `npm run bench` and `npm run chaos` call
// the same functions after a full run.
import '../shared/runtime/node-version.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type BenchDocument, benchCharts, type ChartFile } from './bench.js';
import { chaosCharts, type ScenarioFigures } from './chaos.js';

const ROOT = resolve(import.meta.dirname, '..');
export const CHARTS_DIR = join(ROOT, 'docs', 'charts');
export const BENCH_RESULTS = join(ROOT, 'bench', 'results', 'latest.json');
export const CHAOS_RESULTS = join(ROOT, 'chaos', 'results', 'latest.json');

/** Writes the charts and returns their paths relative to the repository. */
export function writeCharts(charts: readonly ChartFile[], dir = CHARTS_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  return charts.map((chart) => {
    const path = join(dir, chart.name);
    writeFileSync(path, chart.svg);
    return relative(ROOT, path);
  });
}

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new Error(`cannot read ${relative(ROOT, path)}: ${(error as Error).message}`);
  }
}

if (process.argv[1] && import.meta.filename === resolve(process.argv[1])) {
  try {
    const written = writeCharts([
      ...benchCharts(readJson<BenchDocument>(BENCH_RESULTS)),
      ...chaosCharts(readJson<ScenarioFigures[]>(CHAOS_RESULTS)),
    ]);
    process.stdout.write(`${written.map((p) => `wrote ${p}`).join('\n')}\n`);
  } catch (error) {
    process.stderr.write(`charts: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
