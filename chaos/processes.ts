// Real child processes for chaos scenarios and end-to-end tests: the services run exactly as
// `npm start` runs them. Every child is tracked, so a runner that fails or gets Ctrl-C kills them all.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = join(import.meta.dirname, '..');
const tsx = import.meta.resolve('tsx');

/** Only the end of a child's output is kept: a soak's workers log for minutes. */
const OUTPUT_TAIL_CHARS = 256 * 1024;

/** How long `exited` waits, after the exit, for the rest of a child's output. */
const PIPE_DRAIN_MS = 2000;

export interface Service {
  name: string;
  process: ChildProcess;
  /** The last OUTPUT_TAIL_CHARS of stdout and stderr together. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Calls `listener` with every complete output line from now on. */
  onLine(listener: (line: string) => void): void;
}

const tracked = new Set<ChildProcess>();
const trackedDirs = new Set<string>();

/** Registers a child (a service, redis-server, dynalite) to be killed by killTracked(). */
export function track(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
}

/** Registers a temporary directory to be removed by killTracked() (and by its owner normally). */
export function trackDir(dir: string): void {
  trackedDirs.add(dir);
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  trackedDirs.delete(dir);
}

/** Last resort on Ctrl-C or a crash: SIGKILL every tracked child, remove every tracked dir. Synchronous. */
export function killTracked(): number {
  const count = tracked.size;
  for (const child of tracked) child.kill('SIGKILL');
  tracked.clear();
  for (const dir of trackedDirs) rmSync(dir, { recursive: true, force: true });
  trackedDirs.clear();
  return count;
}

/**
 * A child's whole environment: our PATH and HOME (nothing else of ours leaks in), the AWS SDK's
 * Node-version warning off (it would land in the output tests read), then `env`.
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...env,
  };
}

/** Resolves with `child`'s exit code (or signal), or with 'still running at the deadline' after `ms`. */
export function exitWithin(child: ChildProcess, ms: number): Promise<number | string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still running at the deadline'), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal);
    });
  });
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Starts `<service>/main.ts` (or any repo file) with node + tsx and the given environment. */
export function startService(file: string, env: Record<string, string>, args: string[] = [], cwd = root): Service {
  const child = spawn(process.execPath, ['--import', tsx, join(root, file), ...args], {
    cwd,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let output = '';
  const listeners: ((line: string) => void)[] = [];
  const partial = { stdout: '', stderr: '' };
  const receive = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = String(chunk);
    output += text;
    if (output.length > OUTPUT_TAIL_CHARS * 2) output = output.slice(-OUTPUT_TAIL_CHARS);
    if (listeners.length === 0) return;
    const lines = (partial[stream] + text).split('\n');
    partial[stream] = lines.pop() ?? '';
    for (const line of lines) for (const listener of listeners) listener(line);
  };
  child.stdout?.on('data', receive('stdout'));
  child.stderr?.on('data', receive('stderr'));
  // 'exit' can come before the last of the output has been read (a loaded machine): `exited` waits
  // for both pipes to end too, so a caller reading output() then sees the final report. Bounded: a
  // grandchild could hold a pipe open. A pipe that breaks (an 'error') counts as drained, handled at
  // once: left unhandled until the exit, its rejection would end the runner.
  const drained = Promise.all([child.stdout, child.stderr].map((stream) => stream && once(stream, 'end'))).catch(
    () => undefined,
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      void Promise.race([drained, sleep(PIPE_DRAIN_MS)]).then(() => resolve({ code, signal }));
    }),
  );
  return {
    name: file,
    process: child,
    output: () => (output.length > OUTPUT_TAIL_CHARS ? output.slice(-OUTPUT_TAIL_CHARS) : output),
    exited,
    onLine: (listener) => {
      listeners.push(listener);
    },
  };
}

export async function stopService(service: Service, signal: NodeJS.Signals = 'SIGTERM') {
  if (isRunning(service.process)) service.process.kill(signal);
  return service.exited;
}

/** Resident memory of a process in MB, from /proc/<pid>/status (undefined once it is gone). */
export function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}
