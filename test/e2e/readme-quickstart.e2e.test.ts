// The README's quick start as a new user runs it: its commands, taken from the README as written,
// through npm, with nothing configured (the stack starts its own Redis and DynamoDB).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { track } from '../../chaos/processes.js';

const ROOT = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The README's `npm start -- …` line that has `marker`, as words (its comment dropped). */
function readmeCommand(marker: string): string[] {
  const line = readme.split('\n').find((l) => l.startsWith('npm start -- ') && l.includes(marker));
  if (!line) throw new Error(`the README has no "npm start -- … ${marker}" line`);
  return line.replace(/#.*$/, '').trim().split(/\s+/);
}

/** Runs a command line as typed in a shell in the checkout, with only PATH and HOME set. */
function run(words: string[]): Promise<{ code: number | null; output: string }> {
  const [command = '', ...args] = words;
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let output = '';
  child.stdout.on('data', (d) => {
    output += String(d);
  });
  child.stderr.on('data', (d) => {
    output += String(d);
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
}

describe("the README's quick start", () => {
  it('npm start -- --help prints the usage', async () => {
    const { code, output } = await run(readmeCommand('--help'));
    expect(code, output).toBe(0);
    expect(output).toMatch(/Usage: npm start -- \[options\]/);
  });

  it('the finite run drains and ends with its JSON line, on services of its own', async () => {
    const words = readmeCommand('--until-drained');
    const produced = Number(words[words.indexOf('--max-operations') + 1]);

    const { code, output } = await run(words);

    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/Redis: REDIS_URL is unset: started redis-server/);
    expect(output).toMatch(/DynamoDB: started dynalite/);
    const last = JSON.parse(output.trim().split('\n').at(-1) ?? '') as {
      produced: number;
      completed: number;
      deadLettered: number;
    };
    expect(last.produced).toBe(produced);
    expect(last.completed + last.deadLettered).toBe(produced);
  }, 120_000);
});
