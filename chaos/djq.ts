// The operator's CLI as a child process, exactly as an operator runs it (`djq <command>` with the
// stack's environment): stdout and stderr kept apart, and a deadline past which it is killed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { childEnv, track } from './processes.js';

const root = join(import.meta.dirname, '..');
const tsx = import.meta.resolve('tsx');

export interface DjqRun {
  /** null when it was killed at the deadline. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runDjq(env: Record<string, string>, args: string[], timeoutMs = 60_000): Promise<DjqRun> {
  const child = spawn(process.execPath, ['--import', tsx, join(root, 'cli/djq.ts'), ...args], {
    cwd: root,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
