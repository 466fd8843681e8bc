// Which Lua scripts run which Redis commands: BullMQ's (its commands/*.lua, includes resolved) and
// the project's (the .lua files its luaScript() calls load), read from the sources, so the bench can
// say of every command Redis counted in a run which of the scripts called in that run can issue it.
import { globSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

const root = join(import.meta.dirname, '..');
const COMMAND = /(?:rcall|redis\.call|redis\.pcall)\(\s*["'](\w+)["']/g;
const INCLUDE = /^--- @include "([^"]+)"/gm;

function commandsOf(file: string, seen = new Set<string>()): Set<string> {
  const commands = new Set<string>();
  if (seen.has(file)) return commands;
  seen.add(file);
  const text = readFileSync(file, 'utf8');
  for (const [, name] of text.matchAll(COMMAND)) if (name) commands.add(name.toLowerCase());
  for (const [, include] of text.matchAll(INCLUDE)) {
    for (const c of commandsOf(join(dirname(file), `${include}.lua`), seen)) commands.add(c);
  }
  return commands;
}

/** Script name (as the client counts it: BullMQ's without `-<keys>`, ours as defined) → the commands it can run. */
export function scriptCommandIndex(): Map<string, Set<string>> {
  const index = new Map<string, Set<string>>();
  const bullmq = join(dirname(createRequire(import.meta.url).resolve('bullmq')), 'commands');
  for (const file of globSync(join(bullmq, '*.lua')))
    index.set(basename(file).replace(/-\d+\.lua$/, ''), commandsOf(file));
  const defined = /luaScript\(\s*'(\w+)',\s*\d+,\s*new URL\('\.\/([\w.-]+\.lua)'/g;
  for (const source of globSync('{shared,worker,producer}/**/*.ts', { cwd: root })) {
    const text = readFileSync(join(root, source), 'utf8');
    for (const [, name, lua] of text.matchAll(defined)) {
      if (name && lua) index.set(name, commandsOf(join(root, dirname(source), lua)));
    }
  }
  return index;
}

/** Of the scripts a run called (`sent`, by name), those that can run `command`; and how often it was sent directly. */
export function issuersOf(command: string, sent: Record<string, number>, index: Map<string, Set<string>>): string[] {
  const scripts = Object.keys(sent).filter((name) => index.get(name)?.has(command));
  const direct = sent[command];
  return [...scripts, ...(direct ? [`sent directly (${direct}/job)`] : [])];
}
