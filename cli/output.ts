// Output for people (aligned text) or machines (--json: one JSON object on stdout, which names
// where the command acted under `target`).
export interface Output {
  json: boolean;
  /** Prints `data` as JSON with --json, else the text `human` renders. */
  result(data: object, human: () => string): void;
}

export function makeOutput(json: boolean, target?: () => object): Output {
  return {
    json,
    result(data, human) {
      const document = target ? { ...data, target: target() } : data;
      process.stdout.write(json ? `${JSON.stringify(document, null, 2)}\n` : `${human()}\n`);
    },
  };
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => String(c).padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
