// Server-side SVG for the console's charts: a bar per minute, no library, no CDN, works offline.
// Everything drawn comes from numbers and ISO times, and is escaped all the same.
import type { OutcomeSeries } from '../shared/operator/operator-console.js';

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
      return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${escapeXml(`${minutes[i] ?? ''}: ${v}`)}</title></rect>`;
    })
    .join('');
  const label = (iso: string | undefined) => escapeXml((iso ?? '').slice(11, 16));
  const total = values.reduce((a, b) => a + b, 0);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" aria-label="${escapeXml(`${title}: ${total} in ${values.length} minutes`)}">`,
    `<text x="${PAD.left}" y="12" font-size="12" fill="currentColor">${escapeXml(`${title} per minute (total ${total})`)}</text>`,
    `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${WIDTH - PAD.right}" y2="${PAD.top + plotH}" stroke="#888" stroke-width="1"/>`,
    `<text x="${PAD.left - 4}" y="${PAD.top + 8}" font-size="10" text-anchor="end" fill="currentColor">${max}</text>`,
    `<text x="${PAD.left - 4}" y="${PAD.top + plotH}" font-size="10" text-anchor="end" fill="currentColor">0</text>`,
    bars,
    `<text x="${PAD.left}" y="${HEIGHT - 4}" font-size="10" fill="currentColor">${label(minutes[0])}</text>`,
    `<text x="${WIDTH - PAD.right}" y="${HEIGHT - 4}" font-size="10" text-anchor="end" fill="currentColor">${label(minutes.at(-1))} UTC</text>`,
    '</svg>',
  ].join('');
}

export function outcomeCharts(series: OutcomeSeries): string {
  return [
    barChart('Completed', series.minutes, series.counts.completed, '#2e7d32'),
    barChart('Dead-lettered', series.minutes, series.counts['dead-lettered'], '#c62828'),
  ].join('\n');
}
