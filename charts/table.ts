// Results as text: the Markdown tables and number formats the bench and the chaos runner print
// (and the README quotes). With the SVG charts beside it, the one place results are rendered.

/** A Markdown table, columns padded to their widest cell, so the same text reads in a terminal. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A titled Markdown table, so the same text goes into docs/performance.md. */
export function renderTable(title: string, header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [title, '', markdownTable(header, rows)].join('\n');
}

export const fmt = {
  rate: (v: number) => `${Math.round(v).toLocaleString('en-US')}/s`,
  ratio: (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a'),
  seconds: (ms: number) => `${(ms / 1000).toFixed(1)} s`,
};
