// `npm start` (stack/start.ts) as a user runs it, each run from a directory of its own (so its
// .djq/stack.json never replaces the state of a stack someone runs in this checkout); every run and
// directory of a test is killed and removed after it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { type Service, startService, stopService } from './processes.js';

/** The test environment without the shared dynalite endpoint: the stack starts a dynalite of its own. */
export function withOwnDynalite(env: Record<string, string>): Record<string, string> {
  const { AWS_ENDPOINT_URL_DYNAMODB: _shared, ...own } = env;
  return own;
}

/** Registers the cleanup (afterEach) of the stacks and directories a test file starts; `label` names the directories. */
export function useStackRuns(label: string) {
  const services: Service[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const tempDir = (name = label) => {
    const dir = mkdtempSync(join(tmpdir(), `djq-${name}-`));
    dirs.push(dir);
    return dir;
  };
  const start = (env: Record<string, string>, args: string[]): Service => {
    const stack = startService('stack/start.ts', env, args, tempDir());
    services.push(stack);
    return stack;
  };
  return {
    tempDir,
    start,
    /** Runs a stack to its end: its exit code and its output. */
    async run(env: Record<string, string>, args: string[]) {
      const stack = start(env, args);
      const { code } = await stack.exited;
      return { code, output: stack.output() };
    },
  };
}
