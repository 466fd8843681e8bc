// Shared by the deploy tests: loading compose and Monk files, the .dockerignore matcher, and which
// config variables each service's code reads (found by following its imports).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, parseDocument, visit } from 'yaml';
import { CONFIG_KEYS } from '../../shared/runtime/config.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/**
 * Variables the files may name besides the schema's: the AWS SDK reads the credentials itself.
 * Keep this list short: anything else belongs in shared/runtime/config.ts.
 */
export const SDK_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;

export const KNOWN_VARIABLES = new Set<string>([...CONFIG_KEYS, ...SDK_VARIABLES]);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asObject(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}

// ---- Compose ----

export interface ComposeFile {
  path: string;
  /** The file as JSON, merge keys (`<<`) resolved, custom tags dropped. */
  data: JsonObject;
  /** Dotted paths of maps tagged `!override` (they replace instead of merging). */
  overrides: Set<string>;
}

export function loadCompose(path: string): ComposeFile {
  const doc = parseDocument(read(path), { merge: true });
  const errors = doc.errors.map((e) => e.message);
  if (errors.length > 0) throw new Error(`${path}: ${errors.join('; ')}`);
  const overrides = new Set<string>();
  visit(doc, {
    Pair(_key, pair, path) {
      if (isMap(pair.value) && pair.value.tag === '!override') {
        const keys = path.flatMap((node) => (node && 'key' in node && node.key ? [String(node.key)] : []));
        overrides.add([...keys, String(pair.key)].join('.'));
      }
    },
  });
  return { path, data: doc.toJS() as JsonObject, overrides };
}

/** Compose's merge of an override file: maps merge, everything else (and `!override`) replaces. */
export function mergeCompose(base: JsonObject, override: ComposeFile): JsonObject {
  return mergeInto(base, override.data, override.overrides, []);
}

function mergeInto(base: JsonObject, extra: JsonObject, overrides: Set<string>, at: string[]): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const path = [...at, key];
    const current = out[key];
    out[key] =
      isObject(current) && isObject(value) && !overrides.has(path.join('.'))
        ? mergeInto(current, value, overrides, path)
        : value;
  }
  return out;
}

export function services(data: JsonObject): Record<string, JsonObject> {
  const out: Record<string, JsonObject> = {};
  for (const [name, value] of Object.entries(asObject(data.services))) out[name] = asObject(value);
  return out;
}

export function environmentOf(service: JsonObject): Record<string, string> {
  const env = service.environment;
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      const [name = '', ...rest] = String(item).split('=');
      out[name] = rest.join('=');
    }
  } else {
    for (const [name, value] of Object.entries(asObject(env))) out[name] = value === null ? '' : String(value);
  }
  return out;
}

/** Names used in `${NAME}`, `${NAME:-x}`, `$NAME` interpolations. */
export function interpolatedNames(text: string): string[] {
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] ?? m[2] ?? '');
}

/** Compose durations ("40s", "1m30s", "500ms") in milliseconds. */
export function durationMs(value: string): number {
  const units: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = value.trim();
  while (rest.length > 0) {
    const match = rest.match(/^(\d+(?:\.\d+)?)(us|ms|s|m|h)/);
    if (!match) throw new Error(`not a compose duration: ${value}`);
    total += Number(match[1]) * (units[match[2] ?? 's'] ?? 0);
    rest = rest.slice(match[0].length);
  }
  return total;
}

// ---- .dockerignore ----

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*' && glob[i + 1] === '*') {
      out += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Docker's rule: the last matching line wins; a line matching a parent folder matches its files. */
export function dockerignoreExcludes(patterns: string[], file: string): boolean {
  const parts = file.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let excluded = false;
  for (const line of patterns) {
    const negate = line.startsWith('!');
    const glob = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
    const re = globToRegExp(glob);
    if (candidates.some((c) => re.test(c))) excluded = !negate;
  }
  return excluded;
}

export function dockerignorePatterns(path = '.dockerignore'): string[] {
  return read(path)
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** Files of the repository (relative paths), without .git and node_modules. */
export function repoFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.git' || entry.name === 'node_modules') continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...repoFiles(full));
    else if (entry.isFile()) out.push(relative(ROOT, full));
  }
  return out;
}

/** The folders tsc compiles (tsconfig.json "include"). */
export function tsconfigIncludes(): string[] {
  const tsconfig = JSON.parse(read('tsconfig.json')) as { include?: string[] };
  return tsconfig.include ?? [];
}

// ---- Which variables each service reads ----

export type ServiceName = 'producer' | 'worker' | 'board';

export const ENTRY_POINTS: Record<ServiceName, string> = {
  producer: 'producer/main.ts',
  worker: 'worker/main.ts',
  board: 'board/main.ts',
};

/** The entry file and every local module it imports, transitively. */
export function moduleGraph(entry: string): string[] {
  const seen = new Set<string>();
  const stack = [join(ROOT, entry)];
  while (stack.length > 0) {
    const file = stack.pop() ?? '';
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)\.js'/g)) {
      stack.push(resolve(dirname(file), `${match[1]}.ts`));
    }
  }
  return [...seen].map((f) => relative(ROOT, f));
}

/**
 * Config variables a service's code names (config.ts itself lists them all, so it is left out).
 * A name in a comment counts too: better one variable too many in a manifest than one missing.
 */
export function variablesUsedBy(service: ServiceName): string[] {
  const files = moduleGraph(ENTRY_POINTS[service]).filter((f) => f !== join('shared', 'runtime', 'config.ts'));
  if (files.length === 0) throw new Error(`${ENTRY_POINTS[service]} is missing`);
  const sources = files.map((f) => read(f)).join('\n');
  return CONFIG_KEYS.filter((key) => new RegExp(`\\b${key}\\b`).test(sources));
}

// ---- Monk ----

export interface MonkEntry {
  /** namespace/name */
  id: string;
  file: string;
  data: JsonObject;
}

/** Templates our manifests use from Monk's hub rather than define. */
export const EXTERNAL_MONK_TEMPLATES = new Set(['redis/redis']);

export const MONK_FILES = ['monk/djq.yaml', 'monk/djq-table.yaml'];

export function loadMonk(files = MONK_FILES): Map<string, MonkEntry> {
  const entries = new Map<string, MonkEntry>();
  for (const file of files) {
    const doc = parseDocument(read(file));
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const data = asObject(doc.toJS());
    const namespace = data.namespace;
    if (typeof namespace !== 'string') throw new Error(`${file}: no namespace`);
    for (const [name, value] of Object.entries(data)) {
      if (name === 'namespace') continue;
      entries.set(`${namespace}/${name}`, { id: `${namespace}/${name}`, file, data: asObject(value) });
    }
  }
  return entries;
}

function deepMerge(base: JsonObject, extra: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isObject(current) && isObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** A runnable with everything it inherits from our own manifests merged in (child wins). */
export function resolveRunnable(entries: Map<string, MonkEntry>, id: string, seen: string[] = []): JsonObject {
  const entry = entries.get(id);
  if (!entry) return {};
  if (seen.includes(id)) throw new Error(`inheritance cycle: ${[...seen, id].join(' -> ')}`);
  const parent = entry.data.inherits;
  const base = typeof parent === 'string' ? resolveRunnable(entries, parent, [...seen, id]) : {};
  const { inherits: _inherits, ...own } = entry.data;
  return deepMerge(base, own);
}

/** The runnable's chain of `inherits`, nearest first. */
export function ancestry(entries: Map<string, MonkEntry>, id: string): string[] {
  const chain: string[] = [];
  let parent = entries.get(id)?.data.inherits;
  while (typeof parent === 'string' && !chain.includes(parent)) {
    chain.push(parent);
    parent = entries.get(parent)?.data.inherits;
  }
  return chain;
}

export function allStrings(value: Json | undefined): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap((v) => allStrings(v));
  if (isObject(value)) return Object.values(value).flatMap((v) => allStrings(v));
  return [];
}

/** Which of our services a runnable runs, from its image and command. */
export function monkServiceOf(runnable: JsonObject): ServiceName | undefined {
  const text = JSON.stringify(runnable.containers ?? {});
  if (text.includes('dist/board/main.js')) return 'board';
  if (text.includes('djq-worker')) return 'worker';
  if (text.includes('djq-producer')) return 'producer';
  return undefined;
}
