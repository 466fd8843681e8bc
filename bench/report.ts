// What the benchmark prints while it runs: one progress line (rewritten in place on a terminal).
// The results table at the end is rendered by charts/table.ts.

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
