// Renders the docs' table of environment variables (docs/configuration.md) from `configSchema`
// (shared/runtime/config.ts), so the docs cannot drift from the code. Writes only between the
// env-table markers of the file.
//   npx tsx scripts/env-table.ts            # rewrite the table in docs/configuration.md
//   npx tsx scripts/env-table.ts --check    # exit 1 if docs/configuration.md is out of date (CI)
//   npx tsx scripts/env-table.ts FILE       # another file with the same markers
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CONFIG_KEYS, configSchema } from '../shared/runtime/config.js';

export const START_MARKER = '<!-- env-table:start -->';
export const END_MARKER = '<!-- env-table:end -->';

export interface EnvVariable {
  name: string;
  /** The default as it would be written in the environment; undefined when the variable has none. */
  default: string | undefined;
  description: string;
}

/** The default of a schema field, looking through `.transform()` pipes (OPERATION_MIX, booleans). */
function defaultOf(schema: z.ZodType): unknown {
  if (schema instanceof z.ZodDefault) return schema.def.defaultValue;
  if (schema instanceof z.ZodPipe) return defaultOf(schema.def.in as z.ZodType);
  return undefined;
}

/** Every variable of the config schema, in schema order. */
export function envVariables(): EnvVariable[] {
  return CONFIG_KEYS.map((name) => {
    const field = configSchema.shape[name] as z.ZodType;
    const value = defaultOf(field);
    return {
      name,
      default: value === undefined ? undefined : String(value),
      description: field.description ?? '',
    };
  });
}

/** Backticks in a code span need a longer fence; pipes would end the table cell. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

export function renderEnvTable(variables: EnvVariable[] = envVariables()): string {
  const rows = variables.map(
    (v) =>
      `| ${code(v.name)} | ${v.default === undefined ? '(unset)' : cell(code(v.default))} | ${cell(v.description)} |`,
  );
  return ['| Variable | Default | Description |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The text between the markers (without the marker lines), or undefined when they are missing. */
export function tableBetweenMarkers(document: string): string | undefined {
  const start = document.indexOf(START_MARKER);
  const end = document.indexOf(END_MARKER, start + START_MARKER.length);
  if (start < 0 || end < 0) return undefined;
  return document
    .slice(start + START_MARKER.length, end)
    .replace(/^\r?\n/, '')
    .replace(/\r?\n$/, '');
}

/** Replaces what lies between the markers with the table; everything else is kept byte for byte. */
export function replaceBetweenMarkers(document: string, table: string): string {
  const start = document.indexOf(START_MARKER);
  const end = document.indexOf(END_MARKER, start + START_MARKER.length);
  if (start < 0 || end < 0) {
    throw new Error(`the file needs the lines ${START_MARKER} and ${END_MARKER} around the table`);
  }
  return `${document.slice(0, start + START_MARKER.length)}\n${table}\n${document.slice(end)}`;
}

/** The page that holds the table. */
export const ENV_TABLE_DOC = 'docs/configuration.md';

function main(args: string[]): number {
  const check = args.includes('--check');
  const file = resolve(args.find((a) => !a.startsWith('--')) ?? ENV_TABLE_DOC);
  const before = readFileSync(file, 'utf8');
  const after = replaceBetweenMarkers(before, renderEnvTable());
  if (check) {
    if (after === before) return 0;
    process.stderr.write(`${file}: the environment table is out of date: run npx tsx scripts/env-table.ts\n`);
    return 1;
  }
  if (after !== before) writeFileSync(file, after);
  process.stdout.write(`${file}: ${after === before ? 'table already up to date' : 'table updated'}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
