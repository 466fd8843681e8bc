// A small SVG renderer for the bench and chaos charts: horizontal bars (grouped or stacked) and
// lines, as plain strings. Written here rather than taken from a charting library because two chart
// kinds need ~250 lines, render offline with no browser, and the output is diffable text.

export interface Series {
  name: string;
  /** One value per category (bars) or per x value (lines). */
  values: readonly number[];
  /** A fixed colour for this series (e.g. red for "lost"); otherwise the palette's next. */
  color?: string;
}

interface ChartText {
  title: string;
  subtitle?: string;
}

export interface BarChartSpec extends ChartText {
  /** One row per category, top to bottom. */
  categories: readonly string[];
  series: readonly Series[];
  /** Stacked: one bar per category made of the series; grouped: one bar per series. */
  stacked?: boolean;
  /** The value axis' label, e.g. "jobs/s". */
  unit: string;
  /** Text after each bar (grouped) or each stack (stacked); default: the value(s). */
  labels?: readonly string[];
  format?: (value: number) => string;
}

export interface LineChartSpec extends ChartText {
  x: { label: string; values: readonly number[] };
  y: { label: string };
  series: readonly Series[];
  format?: (value: number) => string;
}

/** Okabe–Ito: told apart with every common colour-vision deficiency. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

const WIDTH = 760;
const FONT = 12;
const CHAR = 6.6; // average glyph width at FONT px, to size margins without a font engine
const AXIS_COLOR = '#555';
const GRID_COLOR = '#e4e4e4';

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const defaultFormat = (v: number) =>
  Math.abs(v) >= 100 || Number.isInteger(v) ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(3)));

/** About `count` round tick values from 0 (or the data's minimum) to at least `max`. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min, min + 1];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let t = start; t < max + step * 0.999; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function colorOf(series: readonly Series[], i: number): string {
  return series[i]?.color ?? PALETTE[i % PALETTE.length] ?? '#000';
}

function assertFinite(series: readonly Series[], expected: number, what: string): void {
  for (const s of series) {
    if (s.values.length !== expected)
      throw new Error(`series "${s.name}" has ${s.values.length} values for ${expected} ${what}`);
    if (s.values.some((v) => !Number.isFinite(v))) throw new Error(`series "${s.name}" has a value that is not finite`);
  }
}

/** Title, subtitle and legend; returns the markup and the height it takes. */
function header(spec: ChartText, series: readonly Series[]): { svg: string[]; height: number } {
  const svg = [`<text x="16" y="24" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`];
  let y = 24;
  if (spec.subtitle) {
    y += 18;
    svg.push(`<text x="16" y="${y}" fill="${AXIS_COLOR}">${escapeXml(spec.subtitle)}</text>`);
  }
  y += 22;
  let x = 16;
  // One series needs no legend: the title says what it is.
  if (series.length < 2) return { svg, height: y - 8 };
  for (const [i, s] of series.entries()) {
    const width = 18 + s.name.length * CHAR + 18;
    if (x + width > WIDTH - 16) {
      x = 16;
      y += 18;
    }
    svg.push(
      `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${colorOf(series, i)}"/>`,
      `<text x="${x + 17}" y="${y}">${escapeXml(s.name)}</text>`,
    );
    x += width;
  }
  return { svg, height: y + 14 };
}

function document(height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${Math.ceil(height)}" viewBox="0 0 ${WIDTH} ${Math.ceil(height)}" role="img" aria-label="${escapeXml(title)}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="${FONT}">`,
    `<title>${escapeXml(title)}</title>`,
    // An opaque background: the README is also read in dark mode.
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/** Where a chart plots: its edges in pixels. */
interface Plot {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/**
 * A value axis with a grid line across the plot at each tick: along the bottom (bars, a line
 * chart's x; labels below, the unit under them) or the left (a line chart's y; labels to the left,
 * the unit turned up the side).
 */
function valueAxis(
  side: 'bottom' | 'left',
  ticks: number[],
  scale: (v: number) => number,
  plot: Plot,
  unit: string,
  format: (v: number) => string = defaultFormat,
) {
  const { top, bottom, left, right } = plot;
  const svg: string[] = [];
  for (const t of ticks) {
    const at = scale(t).toFixed(1);
    const label = escapeXml(format(t));
    svg.push(
      side === 'bottom'
        ? `<line x1="${at}" y1="${top}" x2="${at}" y2="${bottom}" stroke="${GRID_COLOR}"/>`
        : `<line x1="${left}" y1="${at}" x2="${right}" y2="${at}" stroke="${GRID_COLOR}"/>`,
      side === 'bottom'
        ? `<text x="${at}" y="${bottom + 15}" text-anchor="middle" fill="${AXIS_COLOR}">${label}</text>`
        : `<text x="${left - 6}" y="${(scale(t) + 4).toFixed(1)}" text-anchor="end" fill="${AXIS_COLOR}">${label}</text>`,
    );
  }
  svg.push(
    side === 'bottom'
      ? `<text x="${((left + right) / 2).toFixed(1)}" y="${bottom + 32}" text-anchor="middle" fill="${AXIS_COLOR}">${escapeXml(unit)}</text>`
      : `<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle" fill="${AXIS_COLOR}">${escapeXml(unit)}</text>`,
  );
  return svg;
}

export function barChart(spec: BarChartSpec): string {
  const { categories, series, stacked = false, format = defaultFormat } = spec;
  assertFinite(series, categories.length, 'categories');
  if (series.some((s) => s.values.some((v) => v < 0))) throw new Error('bar values must be 0 or more');
  const head = header(spec, series);
  const barHeight = stacked ? 22 : series.length > 1 ? 14 : 20;
  const rowHeight = (stacked ? barHeight : barHeight * series.length) + 14;
  const labels =
    spec.labels ??
    categories.map((_, c) =>
      stacked
        ? series.map((s) => format(s.values[c] ?? 0)).join(' / ')
        : series.map((s) => format(s.values[c] ?? 0)).join(''),
    );
  const left = 24 + Math.min(340, Math.max(...categories.map((c) => c.length)) * CHAR);
  const labelRoom = stacked || spec.labels ? Math.min(260, Math.max(...labels.map((l) => l.length)) * CHAR + 12) : 64;
  const right = WIDTH - 16 - labelRoom;
  const top = head.height + 6;
  const bottom = top + rowHeight * categories.length;
  const totals = categories.map((_, c) =>
    stacked ? series.reduce((sum, s) => sum + (s.values[c] ?? 0), 0) : Math.max(...series.map((s) => s.values[c] ?? 0)),
  );
  const ticks = niceTicks(0, Math.max(...totals, 0));
  const max = ticks.at(-1) ?? 1;
  const scale = (v: number) => left + (v / max) * (right - left);

  const body = [...head.svg, ...valueAxis('bottom', ticks, scale, { top, bottom, left, right }, spec.unit)];
  for (const [c, category] of categories.entries()) {
    body.push(
      `<text x="${left - 8}" y="${top + c * rowHeight + rowHeight / 2 + 4}" text-anchor="end">${escapeXml(category)}</text>`,
    );
  }
  // One <g> per series, so a reader (or a test) finds each series' bars together.
  const offsets = categories.map(() => 0);
  for (const [i, s] of series.entries()) {
    const bars: string[] = [];
    for (const [c, value] of s.values.entries()) {
      const y = top + c * rowHeight + 7 + (stacked ? 0 : i * barHeight);
      const x0 = scale(stacked ? (offsets[c] ?? 0) : 0);
      const x1 = scale((stacked ? (offsets[c] ?? 0) : 0) + value);
      if (stacked) offsets[c] = (offsets[c] ?? 0) + value;
      bars.push(
        `<rect x="${x0.toFixed(1)}" y="${y}" width="${Math.max(0, x1 - x0).toFixed(1)}" height="${barHeight - 2}" fill="${colorOf(series, i)}"><title>${escapeXml(`${categories[c]}: ${s.name} ${format(value)}`)}</title></rect>`,
      );
      if (!stacked && !spec.labels)
        bars.push(`<text x="${(x1 + 4).toFixed(1)}" y="${y + barHeight / 2 + 2}">${escapeXml(format(value))}</text>`);
    }
    body.push(`<g class="series" data-series="${escapeXml(s.name)}">`, ...bars, '</g>');
  }
  if (stacked || spec.labels) {
    for (const [c, label] of labels.entries()) {
      const x = scale(totals[c] ?? 0);
      body.push(
        `<text x="${(x + 6).toFixed(1)}" y="${top + c * rowHeight + rowHeight / 2 + 4}" fill="${AXIS_COLOR}">${escapeXml(label)}</text>`,
      );
    }
  }
  body.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="${AXIS_COLOR}"/>`);
  return document(bottom + 42, spec.title, body);
}

export function lineChart(spec: LineChartSpec): string {
  const { x, series, format = defaultFormat } = spec;
  if (x.values.length < 2) throw new Error('a line chart needs at least two x values');
  assertFinite(series, x.values.length, 'x values');
  const head = header(spec, series);
  const height = 320;
  const top = head.height + 8;
  const bottom = top + height;
  const all = series.flatMap((s) => s.values);
  const yTicks = niceTicks(0, Math.max(...all));
  // The x axis spans the data exactly (a run ends where it ends); its ticks are the round values inside.
  const xMin = Math.min(...x.values);
  const xMax = Math.max(...x.values);
  const xTicks = niceTicks(xMin, xMax, 6).filter((t) => t >= xMin && t <= xMax);
  const left = 24 + Math.max(...yTicks.map((t) => format(t).length)) * CHAR + 18;
  const right = WIDTH - 24;
  const yMax = yTicks.at(-1) ?? 1;
  const sx = (v: number) => left + ((v - xMin) / (xMax - xMin)) * (right - left);
  const sy = (v: number) => bottom - (v / yMax) * height;

  const plot = { top, bottom, left, right };
  const body = [
    ...head.svg,
    ...valueAxis('bottom', xTicks, sx, plot, x.label),
    ...valueAxis('left', yTicks, sy, plot, spec.y.label, format),
  ];
  for (const [i, s] of series.entries()) {
    const points = s.values.map((v, j) => `${sx(x.values[j] ?? 0).toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
    body.push(
      `<g class="series" data-series="${escapeXml(s.name)}">`,
      `<polyline points="${points}" fill="none" stroke="${colorOf(series, i)}" stroke-width="2" stroke-linejoin="round"><title>${escapeXml(s.name)}</title></polyline>`,
      '</g>',
    );
  }
  body.push(
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="${AXIS_COLOR}"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="${AXIS_COLOR}"/>`,
  );
  return document(bottom + 42, spec.title, body);
}
