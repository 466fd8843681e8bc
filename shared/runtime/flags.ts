// Command-line flags for every entry point (djq, npm start, npm run bench, npm run chaos):
// node's strict parseArgs, with an unknown flag answered by the nearest one that was meant.
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Edit distance (insertions, deletions, substitutions) between two short words. */
export function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (row[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}

/** The candidate nearest to `word`, if it is near enough to be what was meant. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    const d = name.startsWith(word) || word.startsWith(name) ? 1 : distance(word, name);
    if (!best || d < best.d) best = { name, d };
  }
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.name : undefined;
}

/**
 * parseArgs (strict: its default); an unknown flag throws "unknown option --x: did you mean --y?", the
 * nearest of `candidates` (by default every option of `config`).
 */
export function parseFlags<T extends ParseArgsConfig & { strict?: true }>(
  config: T,
  candidates: readonly string[] = Object.keys(config.options ?? {}),
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config); // strict unless said otherwise, and T cannot say otherwise
  } catch (error) {
    const flag = /Unknown option '(-{1,2}[^']+)'/.exec((error as Error).message)?.[1];
    if (!flag) throw error;
    const near = nearest(flag.replace(/^-+/, ''), candidates);
    throw new UnknownFlagError(`unknown option ${flag}${near ? `: did you mean --${near}?` : ''}`);
  }
}

export class UnknownFlagError extends Error {
  override name = 'UnknownFlagError';
}
