// Child processes of the bench: `worker/main.ts` exactly as `npm start` runs it (scaling, memory,
// tracing, profile), the latency section's measured worker (latency-worker-child.ts), and the raw BullMQ no-op worker on a chosen Node (node-versions); as real
// processes (stdout to /dev/null), their memory and CPU read from the OS.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerSideReport } from './latency-worker.js';

export { mainThreadCpuSeconds, processCpuSeconds } from './proc-cpu.js';

import type { NoOpDrain } from './noop-worker.js';

const root = join(import.meta.dirname, '..');
const tsx = import.meta.resolve('tsx');

export interface WorkerChild {
  process: ChildProcess;
  stderr: () => string;
  stop(): Promise<void>;
}

/** `nodeArgs` go before the script (e.g. --cpu-prof). */
export function spawnWorker(env: Record<string, string>, nodeArgs: readonly string[] = []): WorkerChild {
  return spawnScript(join(root, 'worker', 'main.ts'), { nodeArgs, env: withAwsKeys(env) });
}

/** The SDK wants keys, even for dynalite. */
function withAwsKeys(env: Record<string, string>): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'bench',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'bench',
    ...env,
  };
}

/** What bench/latency-worker-child.ts sends: ready, progress every 100 jobs, the report at the end. */
export type LatencyChildMessage =
  | { type: 'ready' }
  | { type: 'progress'; finished: number }
  | { type: 'report'; report: WorkerSideReport };

/** What it is sent: the measured window's start (epoch ms). */
export type LatencyParentMessage = { type: 'measure'; fromEpochMs: number };

export interface LatencyWorkerChild {
  ready: Promise<void>;
  measureFrom(epochMs: number): void;
  /** The child's report once it has completed `total` jobs; rejects if it exits without one. */
  report: Promise<WorkerSideReport>;
  stop(): Promise<void>;
}

/** How long a latency child that has reported gets to exit by itself before SIGTERM. */
const CHILD_EXIT_GRACE_MS = 10_000;

/** The latency section's measured worker in a process of its own, on the run's env. */
export function spawnLatencyWorker(
  env: Record<string, string>,
  total: number,
  onProgress: (finished: number) => void,
  nodeArgs: readonly string[] = [],
): LatencyWorkerChild {
  const child = spawnScript(join(root, 'bench', 'latency-worker-child.ts'), {
    env: withAwsKeys(env),
    nodeArgs,
    args: [String(total)],
  });
  let ready: () => void = () => {};
  let report: (r: WorkerSideReport) => void = () => {};
  const onMessage = (message: LatencyChildMessage) => {
    if (message.type === 'ready') ready();
    else if (message.type === 'progress') onProgress(message.finished);
    else report(message.report);
  };
  child.process.on('message', onMessage);
  const gone = new Promise<never>((_, reject) => {
    // 'close', not 'exit': it comes after the IPC channel has delivered what the child sent.
    child.process.once('close', (code, signal) =>
      reject(new Error(`latency worker child exited (${signal ?? code}) without a report:\n${child.stderr()}`)),
    );
  });
  const reported = Promise.race([new Promise<WorkerSideReport>((resolve) => (report = resolve)), gone]);
  // Whoever awaits it sees the rejection; nobody awaiting it (a failed start) is no crash.
  reported.catch(() => {});
  return {
    ready: Promise.race([new Promise<void>((resolve) => (ready = resolve)), gone]),
    measureFrom: (epochMs) =>
      child.process.send({ type: 'measure', fromEpochMs: epochMs } satisfies LatencyParentMessage),
    report: reported,
    // After its report the child exits by itself (writing a --cpu-prof profile on the way): give it time.
    stop: async () => {
      if (child.process.exitCode === null && child.process.signalCode === null)
        await Promise.race([once(child.process, 'exit'), sleep(CHILD_EXIT_GRACE_MS)]);
      await child.stop();
    },
  };
}

/** A TypeScript script through tsx under `node` (this process's Node unless given). */
function spawnScript(
  script: string,
  options: { env?: Record<string, string>; nodeArgs?: readonly string[]; node?: string; args?: readonly string[] },
): WorkerChild {
  const { env = {}, nodeArgs = [], node = process.execPath, args = [] } = options;
  const child = spawn(node, [...nodeArgs, '--import', tsx, script, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    // An IPC channel makes the worker stop with us (stopWhenParentExits) if the bench dies.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  child.channel?.unref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** What bench/raw-worker-child.ts drains: a queue the bench has filled, on the bench's Redis. */
export interface RawChildSpec extends NoOpDrain {
  redisUrl: string;
}

/** What it reports back over IPC. */
export interface RawChildReport {
  /** process.versions.node of the child. */
  node: string;
  jobsPerSec: number;
  /** µs of the child's CPU per job over the drain (user + system, all threads; start-up left out). */
  cpuMicrosPerJob: number;
}

/** Runs the raw BullMQ no-op worker under `node` until it has drained `spec.jobs`, and returns its report. */
export async function runRawWorkerChild(
  node: string,
  spec: RawChildSpec,
  timeoutMs = 600_000,
): Promise<RawChildReport> {
  const child = spawnScript(join(root, 'bench', 'raw-worker-child.ts'), { node, args: [JSON.stringify(spec)] });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<RawChildReport>((resolve, reject) => {
      child.process.once('message', (report) => resolve(report as RawChildReport));
      // 'close', not 'exit': it comes after the IPC channel has delivered what the child sent.
      child.process.once('close', (code, signal) =>
        reject(
          new Error(`raw worker child on ${node} exited (${signal ?? code}) without a report:\n${child.stderr()}`),
        ),
      );
      child.process.once('error', reject);
      timer = setTimeout(
        () => reject(new Error(`raw worker child on ${node} did not drain ${spec.jobs} jobs within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
  } finally {
    clearTimeout(timer);
    await child.stop();
  }
}

/** Resident set size of a process in bytes (Linux /proc, else ps). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return (
      Number(
        execFileSync('ps', ['-o', 'rss=', '-p', String(pid)])
          .toString()
          .trim(),
      ) * 1024
    );
  }
}
