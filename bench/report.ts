// What the benchmark prints: one progress line while it runs (rewritten in place on a terminal)
// and the results table at the end.

const tty = process.stderr.isTTY === true;
let lastPlain = 0;

/** Shows what is running now; on a terminal it overwrites itself, elsewhere it prints every few seconds. */
export function progress(section: string, detail = ''): void {
  const line = `[bench] ${section}${detail ? `: ${detail}` : ''}`;
  if (tty) {
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
  } else if (Date.now() - lastPlain > 5000 || !detail) {
    lastPlain = Date.now();
    process.stderr.write(`${line}\n`);
  }
}

export function clearProgress(): void {
  if (tty) process.stderr.write('\r\x1b[2K');
}

export type Row = [measure: string, project: string, baseline: string, ratio: string, target: string];

/** A Markdown table, so the same text goes into docs/performance.md. */
export function renderTable(title: string, header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [title, '', line(header), rule, ...rows.map(line)].join('\n');
}

export const fmt = {
  rate: (v: number) => `${Math.round(v).toLocaleString('en-US')}/s`,
  ratio: (v: number) => (Number.isFinite(v) ? v.toFixed(2) : 'n/a'),
  ms: (v: number) => `${v.toFixed(1)} ms`,
  mb: (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`,
};
