// Real child processes for end-to-end tests: the services run exactly as `npm start` runs them.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const tsx = import.meta.resolve('tsx');

export interface Service {
  name: string;
  process: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `<service>/main.ts` (or any repo file) with node + tsx and the given environment. */
export function startService(file: string, env: Record<string, string>, args: string[] = [], cwd = root): Service {
  const child = spawn(process.execPath, ['--import', tsx, join(root, file), ...args], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += String(d);
  });
  child.stderr?.on('data', (d) => {
    output += String(d);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { name: file, process: child, output: () => output, exited };
}

export async function stopService(service: Service, signal: NodeJS.Signals = 'SIGTERM') {
  if (service.process.exitCode === null && service.process.signalCode === null) service.process.kill(signal);
  return service.exited;
}
