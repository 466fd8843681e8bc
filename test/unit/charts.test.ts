// The SVG renderer and the bench/chaos charts: well-formed SVG (read back by a strict XML parser),
// every series present with one mark per value, text escaped, bad input refused; and the charts of
// the saved results carry the figures of those results.
import { readFileSync } from 'node:fs';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { describe, expect, it } from 'vitest';
import type { ScenarioResult } from '../../chaos/scenario.js';
import { type BenchDocument, benchCharts, stepParts } from '../../charts/bench.js';
import { chaosCharts } from '../../charts/chaos.js';
import { BENCH_RESULTS, CHAOS_RESULTS } from '../../charts/main.js';
import { barChart, lineChart, niceTicks } from '../../charts/svg.js';

interface Element {
  name: string;
  attributes: Record<string, string>;
  children: Element[];
  text: string;
}

/** Parses with a strict, namespace-aware XML parser: any well-formedness error throws. */
function parseSvg(svg: string): Element {
  const parser = new SaxesParser({ xmlns: false });
  const root: Element = { name: '#document', attributes: {}, children: [], text: '' };
  const stack: Element[] = [root];
  let failure: Error | undefined;
  parser.on('error', (error) => {
    failure ??= error;
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    const element: Element = { name: tag.name, attributes: { ...tag.attributes }, children: [], text: '' };
    stack.at(-1)?.children.push(element);
    stack.push(element);
  });
  parser.on('text', (text) => {
    const current = stack.at(-1);
    if (current) current.text += text;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.write(svg).close();
  if (failure) throw failure;
  const [svgElement] = root.children;
  if (root.children.length !== 1 || !svgElement) throw new Error('expected one root element');
  return svgElement;
}

function all(element: Element, name: string): Element[] {
  return [...(element.name === name ? [element] : []), ...element.children.flatMap((child) => all(child, name))];
}

function seriesGroups(svg: Element): Map<string, Element> {
  return new Map(
    all(svg, 'g')
      .filter((g) => g.attributes['data-series'] !== undefined)
      .map((g) => [g.attributes['data-series'] as string, g]),
  );
}

describe('barChart', () => {
  const grouped = barChart({
    title: 'Throughput <by> workers & "more"',
    categories: ['1 worker', '2 workers', '4 workers'],
    series: [
      { name: 'measured', values: [35, 75, 142] },
      { name: 'linear', values: [35, 70, 140] },
    ],
    unit: 'jobs/s',
  });

  it('renders a well-formed SVG document with its title escaped', () => {
    const svg = parseSvg(grouped);
    expect(svg.name).toBe('svg');
    expect(svg.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(svg.attributes.viewBox).toMatch(/^0 0 \d+ \d+$/);
    expect(all(svg, 'title')[0]?.text).toBe('Throughput <by> workers & "more"');
  });

  it('is read by a parser that does reject malformed SVG', () => {
    expect(() => parseSvg('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>')).toThrow();
    expect(() => parseSvg('<svg><text>a & b</text></svg>')).toThrow();
  });

  it('draws each series as one group with one bar per category, widths proportional to the values', () => {
    const groups = seriesGroups(parseSvg(grouped));
    expect([...groups.keys()]).toEqual(['measured', 'linear']);
    const widths = all(groups.get('measured') as Element, 'rect').map((r) => Number(r.attributes.width));
    expect(widths).toHaveLength(3);
    expect(widths[2] as number).toBeCloseTo(((widths[0] as number) * 142) / 35, 0);
    expect(all(groups.get('linear') as Element, 'rect')).toHaveLength(3);
  });

  it('stacks series end to end in one bar per category, with the given labels', () => {
    const svg = parseSvg(
      barChart({
        title: 'outcomes',
        categories: ['a', 'b'],
        series: [
          { name: 'completed', values: [90, 50] },
          { name: 'dead-lettered', values: [10, 50] },
        ],
        stacked: true,
        unit: '%',
        labels: ['90 / 10', '50 / 50'],
      }),
    );
    const groups = seriesGroups(svg);
    const [completedA, completedB] = all(groups.get('completed') as Element, 'rect');
    const [deadA] = all(groups.get('dead-lettered') as Element, 'rect');
    // The second segment starts where the first ends.
    expect(Number(deadA?.attributes.x)).toBeCloseTo(
      Number(completedA?.attributes.x) + Number(completedA?.attributes.width),
      0,
    );
    expect(Number(completedB?.attributes.width)).toBeCloseTo(Number(completedA?.attributes.width) * (50 / 90), 0);
    const texts = all(svg, 'text').map((t) => t.text);
    expect(texts).toEqual(expect.arrayContaining(['90 / 10', '50 / 50', 'a', 'b']));
  });

  it('refuses series that do not fit the categories, and values that are not finite or negative', () => {
    const base = { title: 't', categories: ['a', 'b'], unit: 'u' };
    expect(() => barChart({ ...base, series: [{ name: 's', values: [1] }] })).toThrow(/1 values for 2 categories/);
    expect(() => barChart({ ...base, series: [{ name: 's', values: [1, Number.NaN] }] })).toThrow(/not finite/);
    expect(() => barChart({ ...base, series: [{ name: 's', values: [1, -1] }] })).toThrow(/0 or more/);
  });
});

describe('lineChart', () => {
  it('draws one polyline per series with a point per x value, inside the plot', () => {
    const svg = parseSvg(
      lineChart({
        title: 'memory',
        x: { label: 'jobs finished', values: [0, 500, 1000, 1500] },
        y: { label: 'MB' },
        series: [
          { name: 'rss', values: [120, 140, 141, 140] },
          { name: 'redis', values: [2, 5, 5, 5] },
        ],
      }),
    );
    const groups = seriesGroups(svg);
    expect([...groups.keys()]).toEqual(['rss', 'redis']);
    for (const group of groups.values()) {
      const [line] = all(group, 'polyline');
      const points = (line?.attributes.points ?? '').split(' ').map((p) => p.split(',').map(Number));
      expect(points).toHaveLength(4);
      for (const [x, y] of points) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(Number(svg.attributes.width));
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(Number(svg.attributes.height));
      }
    }
  });

  it('refuses fewer than two x values', () => {
    expect(() =>
      lineChart({
        title: 't',
        x: { label: 'x', values: [1] },
        y: { label: 'y' },
        series: [{ name: 's', values: [1] }],
      }),
    ).toThrow(/two x values/);
  });
});

describe('niceTicks', () => {
  it('gives round steps that reach the maximum', () => {
    expect(niceTicks(0, 142)).toEqual([0, 50, 100, 150]);
    expect(niceTicks(0, 8.06)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0, 0)).toEqual([0, 1]);
  });
});

describe('stepParts', () => {
  it("gives the handler's parts and its remainder, which add up to the handler's time, never the total beside them", () => {
    const parts = stepParts({ validate: 0.1, read: 3, append: 2, project: 1.5, handler: 8.4, ack: 0.7 });
    const handler = parts.filter(
      ([label]) => ['read', 'append', 'project'].includes(label) || label.startsWith('handler'),
    );
    expect(handler.reduce((sum, [, ms]) => sum + ms, 0)).toBeCloseTo(8.4);
    expect(parts.map(([label]) => label)).not.toContain('handler total');
  });
});

describe('the capacity scenario chart', () => {
  const capacity = (extra: Record<string, unknown>) => ({
    scenario: 'capacity',
    enqueued: 4,
    completed: 4,
    deadLettered: 0,
    pending: 0,
    lost: 0,
    duplicated: 0,
    passed: true,
    faults: { capacityUnitsPerSecond: 100, unitsPerJob: 5 },
    goodputShare: 0.9,
    throttledShare: 0.05,
    ...extra,
  });
  const flowTimeline = {
    seconds: [1, 2, 3],
    admittedWriteUnits: [180, 120, 95],
    throttledRequests: [0, 40, 3],
    rateJobsPerSecond: [0, 20, 18],
  };

  it("draws the table's admitted units, its budget, the fleet's rate in units and the throttles, a point per second", () => {
    const chart = chaosCharts([capacity({ flowTimeline })]).find((c) => c.name === 'chaos-capacity-flow.svg');
    const groups = seriesGroups(parseSvg(chart?.svg ?? ''));
    expect([...groups.keys()]).toEqual([
      'write units admitted',
      'budget',
      'fleet rate × 5.0 units a job (0: no limit)',
      'requests throttled',
    ]);
    for (const group of groups.values()) {
      expect(all(group, 'polyline')[0]?.attributes.points?.split(' ')).toHaveLength(3);
    }
    // The rate is drawn in write units (jobs/s × units a job): 20 jobs/s at 5 units sits where 100 units would.
    const y = (series: string, i: number) => {
      const points = all(groups.get(series) as Element, 'polyline')[0]?.attributes.points?.split(' ') ?? [];
      return Number(points[i]?.split(',')[1]);
    };
    expect(y('fleet rate × 5.0 units a job (0: no limit)', 1)).toBeCloseTo(y('budget', 1));
  });

  it('draws nothing for a result saved before the scenario kept its seconds', () => {
    expect(chaosCharts([capacity({})]).map((c) => c.name)).toEqual(['chaos-outcomes.svg']);
  });
});

describe('charts of the saved results', () => {
  it('draws the bench figures: scaling by worker count, latency percentiles, per-step time', () => {
    const doc = JSON.parse(readFileSync(BENCH_RESULTS, 'utf8')) as BenchDocument;
    const charts = new Map(benchCharts(doc).map((c) => [c.name, parseSvg(c.svg)]));
    expect([...charts.keys()]).toEqual(['bench-scaling.svg', 'bench-latency.svg', 'bench-steps.svg']);

    const scaling = charts.get('bench-scaling.svg') as Element;
    expect([...seriesGroups(scaling).keys()]).toEqual(['measured', 'linear (1 worker × n)']);
    const measured = all(seriesGroups(scaling).get('measured') as Element, 'text').map((t) => t.text);
    const rates = doc.details.scaling?.jobsPerSec ?? {};
    expect(measured).toEqual([1, 2, 4].map((n) => String(rates[n])));

    const latency = all(charts.get('bench-latency.svg') as Element, 'text').map((t) => t.text);
    expect(latency).toEqual(expect.arrayContaining(['p99', String(doc.details.latency?.p99)]));
    const steps = all(charts.get('bench-steps.svg') as Element, 'rect').filter((r) => r.children.length > 0);
    expect(steps).toHaveLength(Object.keys(doc.details.latency?.stepsMsPerJob ?? {}).length);
  });

  it("draws the chaos outcomes of every scenario, the soak memory samples and the capacity scenario's seconds", () => {
    const results = JSON.parse(readFileSync(CHAOS_RESULTS, 'utf8')) as ScenarioResult[];
    const charts = new Map(chaosCharts(results).map((c) => [c.name, parseSvg(c.svg)]));
    expect([...charts.keys()]).toEqual([
      'chaos-outcomes.svg',
      'chaos-soak-worker-rss.svg',
      'chaos-soak-redis-memory.svg',
      'chaos-capacity-flow.svg',
    ]);
    const outcomes = charts.get('chaos-outcomes.svg') as Element;
    expect([...seriesGroups(outcomes).keys()]).toEqual(['completed', 'dead-lettered', 'pending', 'lost']);
    const texts = all(outcomes, 'text').map((t) => t.text);
    for (const r of results) {
      expect(texts).toContain(r.scenario);
      expect(texts.some((t) => t.startsWith(`${r.completed} / ${r.deadLettered} / ${r.lost} / ${r.duplicated}`))).toBe(
        true,
      );
    }
    const soak = results.find((r) => r.scenario === 'soak') as ScenarioResult;
    const rss = seriesGroups(charts.get('chaos-soak-worker-rss.svg') as Element).get('long-lived worker w1');
    const points = all(rss as Element, 'polyline')[0]?.attributes.points?.split(' ') ?? [];
    expect(points).toHaveLength((soak.workerRssMb ?? []).length);
    const capacity = results.find((r) => r.scenario === 'capacity') as ScenarioResult;
    const admitted = seriesGroups(charts.get('chaos-capacity-flow.svg') as Element).get('write units admitted');
    const seconds = (capacity.flowTimeline as { seconds: number[] } | undefined)?.seconds ?? [];
    expect(seconds.length).toBeGreaterThan(100);
    expect(all(admitted as Element, 'polyline')[0]?.attributes.points?.split(' ')).toHaveLength(seconds.length);
  });

  it('matches the charts committed in docs/charts (run `npm run charts` after changing either)', () => {
    const doc = JSON.parse(readFileSync(BENCH_RESULTS, 'utf8')) as BenchDocument;
    const results = JSON.parse(readFileSync(CHAOS_RESULTS, 'utf8')) as ScenarioResult[];
    for (const chart of [...benchCharts(doc), ...chaosCharts(results)]) {
      expect(readFileSync(new URL(`../../docs/charts/${chart.name}`, import.meta.url), 'utf8'), chart.name).toBe(
        chart.svg,
      );
    }
  });
});
