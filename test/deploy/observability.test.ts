// The compose `observability` profile, checked without a Docker engine: Prometheus's config by
// promtool itself, the targets against the compose file and the config defaults, Grafana's
// provisioning against the dashboard, and every metric the dashboard queries against the names the
// code's prom-client registries export (built here, in-process).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectDefaultMetrics, type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { QueueMetrics } from '../../board/queue-metrics.js';
import { envVariables } from '../../scripts/env-table.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { asObject, environmentOf, type JsonObject, loadCompose, ROOT, read, services } from './support.js';

const PROMETHEUS_CONFIG = 'docker/prometheus/prometheus.yml';
const DASHBOARD = 'docker/grafana/dashboards/djq.json';

const compose = loadCompose('docker-compose.yml');
const prometheus = parse(read(PROMETHEUS_CONFIG)) as JsonObject;
const scrapeJobs = new Map(
  (prometheus.scrape_configs as JsonObject[]).map((job) => [String(job.job_name), job] as const),
);
const metricsPortDefault = envVariables().find((v) => v.name === 'METRICS_PORT')?.default;

interface Panel {
  id: number;
  title: string;
  type: string;
  datasource?: { uid?: string; type?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string; datasource?: { uid?: string } }[];
}
const dashboard = JSON.parse(read(DASHBOARD)) as { uid: string; title: string; panels: Panel[] };
const expressions = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

function promtool(file: string) {
  const run = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('promtool is not installed: `apt-get install prometheus` (Debian) provides it; .ci/run does so');
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

// ---- PromQL: the metric names an expression reads ----

/** Words that stand where a metric name could: PromQL's operators and modifiers. */
const PROMQL_KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring']);
/** Series Prometheus makes itself for every target. */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** Metric names in a PromQL expression: identifiers that are not functions, keywords or labels. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals (label values)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range selectors, [$__rate_interval] included
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const names: string[] = [];
  // Not after a digit: the unit of a duration (`offset 5m`) or an exponent is no name.
  for (const match of stripped.matchAll(/(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const rest = stripped.slice((match.index ?? 0) + match[0].length).trimStart();
    if (rest.startsWith('(') || PROMQL_KEYWORDS.has(match[0])) continue; // a function or aggregation
    names.push(match[0]);
  }
  return names;
}

/** The series names a registry's metrics appear under in the exposition (histogram suffixes included). */
async function exportedNames(registry: Registry): Promise<Set<string>> {
  const metrics = (await registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[];
  return new Set(
    metrics.flatMap(({ name, type }) => {
      switch (String(type)) {
        case 'histogram':
          return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
        case 'summary':
          return [name, `${name}_sum`, `${name}_count`];
        default:
          return [name];
      }
    }),
  );
}

/**
 * The producer builds its registry inside main() (default metrics plus the counters declared
 * there), so its names are read from that source: the same defaults, plus each declared name.
 */
async function producerNames(): Promise<Set<string>> {
  const source = read('producer/main.ts');
  const declared = [...source.matchAll(/new (?:Counter|Gauge)\(\{\s*name: '([a-z_:]+)'/g)].map((m) => m[1] as string);
  if (declared.length === 0) throw new Error('producer/main.ts declares no Counter or Gauge: update this test');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return new Set([...(await exportedNames(registry)), ...declared]);
}

async function allExportedNames(): Promise<Set<string>> {
  const worker = new WorkerMetrics();
  // The per-shard gauges (flow control, watching, standing by) are registered once the worker service hands over its shards.
  worker.observeShards([]);
  // The board's gauges read Redis on collect: an object standing in for the two queues answers with no jobs.
  const queue = (name: string) => ({ name, getJobCounts: async () => ({}) });
  const board = new QueueMetrics({
    queues: { operations: queue('ops'), deadLetter: queue('ops-dlq') } as unknown as ConstructorParameters<
      typeof QueueMetrics
    >[0]['queues'],
  });
  try {
    return new Set([
      ...(await exportedNames(worker.registry)),
      ...(await exportedNames(board.registry)),
      ...(await producerNames()),
    ]);
  } finally {
    board.close();
  }
}

describe('Prometheus config (docker/prometheus/prometheus.yml)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'djq-promtool-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('passes promtool check config, and promtool does reject a broken one', () => {
    const good = promtool(join(ROOT, PROMETHEUS_CONFIG));
    expect(good.output).toContain('SUCCESS');
    expect(good.status).toBe(0);

    const broken = join(scratch, 'broken.yml');
    writeFileSync(broken, read(PROMETHEUS_CONFIG).replace('type: A', 'type: NOPE'));
    expect(promtool(broken).status).not.toBe(0);
  });

  it('finds every worker replica through Docker DNS, and the producer and the board, on their ports', () => {
    expect([...scrapeJobs.keys()].sort()).toEqual(['board', 'producer', 'worker']);
    const all = services(compose.data);
    const [dns] = asObject(scrapeJobs.get('worker')).dns_sd_configs as JsonObject[];
    expect(dns?.names).toEqual(['worker']);
    expect(dns?.type).toBe('A');
    expect(String(dns?.port)).toBe(metricsPortDefault);
    expect(all.worker).toBeDefined();

    const targets = (job: string) =>
      (asObject(scrapeJobs.get(job)).static_configs as JsonObject[]).flatMap((c) => c.targets);
    expect(targets('producer')).toEqual([`producer:${metricsPortDefault}`]);
    expect(targets('board')).toEqual([`board:${environmentOf(all.board ?? {}).BOARD_PORT}`]);
    // The compose file leaves METRICS_PORT to .env; the scrape and the images' health checks need the default.
    for (const name of ['producer', 'worker'])
      expect(environmentOf(all[name] ?? {}).METRICS_PORT, name).toBe(`\${METRICS_PORT:-}`);
  });
});

describe('metric names', () => {
  it('finds the metric names in PromQL, and only them', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, command) (rate(djq_dynamodb_call_duration_seconds_bucket{command="GetItem"}[$__rate_interval])))',
      ),
    ).toEqual(['djq_dynamodb_call_duration_seconds_bucket']);
    expect(metricNames('count(up{job="worker"} == 1) / sum(djq_bogus_total offset 5m) or on (job) vector(0)')).toEqual([
      'up',
      'djq_bogus_total',
    ]);
  });

  it('the dashboard queries only series the code exports (or Prometheus adds), and each topic has a panel', async () => {
    const exported = await allExportedNames();
    // The registries are what the dashboard is checked against: they must hold the project's metrics.
    expect(exported).toContain('djq_jobs_total');
    expect(exported).toContain('djq_job_duration_seconds_bucket');
    expect(exported).toContain('djq_dlq_jobs');
    expect(exported).toContain('djq_jobs_enqueued_total');

    const unknown = expressions.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name))
        .map((name) => `${panel}: ${name}`),
    );
    expect(unknown).toEqual([]);

    const used = new Set(expressions.flatMap(({ expr }) => metricNames(expr)));
    for (const name of [
      'djq_jobs_total',
      'djq_queue_jobs',
      'djq_dlq_jobs',
      'djq_job_duration_seconds_bucket',
      'djq_dynamodb_call_duration_seconds_bucket',
      'djq_dynamodb_consumed_capacity_units_total',
      'djq_dynamodb_throttles_total',
      'up',
    ])
      expect(used, name).toContain(name);
    expect(expressions.some(({ expr }) => expr.includes('outcome="retried"'))).toBe(true);
  });

  it('the dashboard names only scrape jobs the Prometheus config defines', () => {
    const jobs = expressions.flatMap(({ expr }) => [...expr.matchAll(/job="([^"]+)"/g)].map((m) => m[1]));
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) expect([...scrapeJobs.keys()]).toContain(job);
  });
});

describe('Grafana provisioning', () => {
  const grafana = services(compose.data).grafana ?? {};
  /** Container path → repository path of each bind mount. */
  const mounts = new Map(
    ((grafana.volumes ?? []) as string[])
      .map((v) => v.split(':'))
      .filter(([source]) => source?.startsWith('./'))
      .map(([source, target]) => [String(target), String(source).slice(2)]),
  );
  const datasources = (parse(read('docker/grafana/provisioning/datasources/datasources.yml')) as JsonObject)
    .datasources as JsonObject[];

  it('points the data sources at the compose services', () => {
    const all = services(compose.data);
    for (const source of datasources) {
      const host = new URL(String(source.url)).hostname;
      expect(all[host], `${source.name}: ${source.url}`).toBeDefined();
    }
    expect(datasources.find((d) => d.type === 'prometheus')?.url).toBe('http://prometheus:9090');
  });

  it('loads the dashboard from where compose mounts it, and every panel uses a provisioned data source', () => {
    const providers = (parse(read('docker/grafana/provisioning/dashboards/dashboards.yml')) as JsonObject)
      .providers as JsonObject[];
    const path = String(asObject(providers[0]?.options).path);
    expect(mounts.get(path)).toBe('docker/grafana/dashboards');
    expect(mounts.get('/etc/grafana/provisioning')).toBe('docker/grafana/provisioning');
    const home = /default_home_dashboard_path = (\S+)/.exec(read('docker/grafana/grafana.ini'))?.[1] ?? '';
    expect(home).toBe(`${path}/djq.json`);
    expect(existsSync(join(ROOT, 'docker/grafana/dashboards/djq.json'))).toBe(true);

    const uids = new Set(datasources.map((d) => d.uid));
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(uids, panel.title).toContain(panel.datasource?.uid);
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(uids, panel.title).toContain(target.datasource?.uid);
    }
    expect(JSON.parse(readFileSync(join(ROOT, DASHBOARD), 'utf8')).uid).toBe('djq-overview');
  });
});
