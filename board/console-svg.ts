// Server-side SVG for the console's charts: a bar per minute, no library, no CDN, works offline.
// Everything drawn comes from numbers and ISO times, and is escaped all the same.
import type { ChartSeries, OutcomeSeries } from '../shared/operator/operator-console.js';

const WIDTH = 720;
const HEIGHT = 140;
const PAD = { left: 36, right: 8, top: 18, bottom: 20 };

const escapeXml = (text: string) =>
  text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

/** One chart: `values` per minute as bars, the maximum on the axis, the first and last minute below. */
export function barChart(title: string, minutes: readonly string[], values: readonly number[], color: string): string {
  const max = Math.max(1, ...values);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const barW = plotW / Math.max(1, values.length);
  const bars = values
    .map((v, i) => {
      const h = (v / max) * plotH;
      const x = PAD.left + i * barW;
      const y = PAD.top + plotH - h;
      return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW > 2 ? barW - 1 : barW).toFixed(2)}" height="${h.toFixed(1)}" fill="${color}"><title>${escapeXml(`${minutes[i] ?? ''}: ${v}`)}</title></rect>`;
    })
    .join('');
  const total = Math.round(values.reduce((a, b) => a + b, 0) * 10) / 10;
  return frame(
    `${title}: ${total} in ${values.length} minutes`,
    `${title} per minute (total ${total})`,
    max,
    minutes,
    bars,
  );
}

/** The axes, title and time labels around a plot. */
function frame(aria: string, heading: string, max: number, minutes: readonly string[], plot: string): string {
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const label = (iso: string | undefined) => escapeXml((iso ?? '').slice(11, 16));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" aria-label="${escapeXml(aria)}">`,
    `<text x="${PAD.left}" y="12" font-size="12" fill="currentColor">${escapeXml(heading)}</text>`,
    `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${WIDTH - PAD.right}" y2="${PAD.top + plotH}" stroke="#888" stroke-width="1"/>`,
    `<text x="${PAD.left - 4}" y="${PAD.top + 8}" font-size="10" text-anchor="end" fill="currentColor">${escapeXml(String(max))}</text>`,
    `<text x="${PAD.left - 4}" y="${PAD.top + plotH}" font-size="10" text-anchor="end" fill="currentColor">0</text>`,
    plot,
    `<text x="${PAD.left}" y="${HEIGHT - 4}" font-size="10" fill="currentColor">${label(minutes[0])}</text>`,
    `<text x="${WIDTH - PAD.right}" y="${HEIGHT - 4}" font-size="10" text-anchor="end" fill="currentColor">${label(minutes.at(-1))} UTC</text>`,
    '</svg>',
  ].join('');
}

/**
 * Lines of a gauge or a quantile per minute; a minute without a value (null) breaks the line, a
 * lone value shows as a dot. `unit` follows the maximum on the axis.
 */
export function lineChart(
  title: string,
  minutes: readonly string[],
  lines: readonly { name: string; values: readonly (number | null)[]; color: string }[],
  unit = '',
): string {
  const all = lines.flatMap((l) => l.values.filter((v): v is number => v !== null));
  const max = Math.max(1, ...all);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, minutes.length);
  const point = (v: number, i: number) =>
    `${(PAD.left + (i + 0.5) * step).toFixed(1)},${(PAD.top + plotH - (v / max) * plotH).toFixed(1)}`;
  const drawn = lines
    .map((line) => {
      const runs: string[][] = [[]];
      line.values.forEach((v, i) => {
        if (v === null) runs.push([]);
        else runs.at(-1)?.push(point(v, i));
      });
      return runs
        .filter((run) => run.length > 0)
        .map((run) =>
          run.length === 1
            ? `<circle cx="${run[0]?.split(',')[0]}" cy="${run[0]?.split(',')[1]}" r="1.5" fill="${line.color}"/>`
            : `<polyline fill="none" stroke="${line.color}" stroke-width="1.5" points="${run.join(' ')}"/>`,
        )
        .join('');
    })
    .join('');
  const latest = lines
    .map((l) => `${l.name} ${[...l.values].reverse().find((v) => v !== null) ?? '–'}${unit}`)
    .join(', ');
  const legend = lines
    .map(
      (l, i) =>
        `<text x="${WIDTH - PAD.right - (lines.length - 1 - i) * 70}" y="12" font-size="10" text-anchor="end" fill="${l.color}">${escapeXml(l.name)}</text>`,
    )
    .join('');
  return frame(
    `${title}: latest ${latest}`,
    `${title} per minute (latest ${latest})`,
    Math.round(max * 10) / 10,
    minutes,
    drawn + legend,
  );
}

/** Every chart of the console, in the page's order. */
export function consoleCharts(series: ChartSeries): string {
  const { minutes, activity } = series;
  return [
    barChart('Completed', minutes, series.completed, '#2e7d32'),
    barChart('Failed attempts', minutes, activity.failedAttempts, '#ef6c00'),
    barChart('Dead-lettered', minutes, series.deadLettered, '#c62828'),
    barChart('Put back', minutes, activity.putBack, '#6a1b9a'),
    lineChart(
      'Attempt duration',
      minutes,
      [
        { name: 'p50', values: activity.p50Ms, color: '#1565c0' },
        { name: 'p95', values: activity.p95Ms, color: '#c62828' },
      ],
      ' ms',
    ),
    lineChart('Queue depth', minutes, [{ name: 'waiting', values: activity.depth, color: '#455a64' }]),
    barChart('DynamoDB capacity units', minutes, activity.capacityUnits, '#00838f'),
    barChart('DynamoDB throttled requests', minutes, activity.throttled, '#ad1457'),
  ].join('\n');
}

export function outcomeCharts(series: OutcomeSeries): string {
  return [
    barChart('Completed', series.minutes, series.counts.completed, '#2e7d32'),
    barChart('Dead-lettered', series.minutes, series.counts['dead-lettered'], '#c62828'),
  ].join('\n');
}
