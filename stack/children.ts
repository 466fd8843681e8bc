// The stack's child processes: one producer, N workers and the board, each in its own process
// group, their output relayed with a label; a worker that dies is restarted, with a growing delay,
// until it has died RESTART_BUDGET times in a row soon after starting.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { withDeadline } from '../shared/runtime/deadline.js';
import { paint, relay, say } from './output.js';

/** A child that dies this many times in a row, each soon after it started, is not restarted again. */
const RESTART_BUDGET = 5;
/** A child that ran this long before dying counts as having started well: its budget starts again. */
const HEALTHY_RUN_MS = 30_000;
/** How long the stop waits for a child it SIGKILLed to be reaped. */
const KILLED_EXIT_MS = 500;

const root = join(import.meta.dirname, '..');

export type Service = 'producer' | 'worker' | 'board';

/** A service's entry point, run from its TypeScript source under tsx. */
export function entry(service: Service): string {
  return join(root, service, 'main.ts');
}

interface Child {
  name: string;
  service: Service;
  env: Record<string, string>;
  process?: ChildProcess;
  restarts: number;
  /** Deaths in a row, each within HEALTHY_RUN_MS of its start. */
  quickDeaths: number;
  startedAt: number;
}

export class Stack {
  private readonly children: Child[] = [];
  private stopping = false;
  private fatal: { code: number; reason: string } | undefined;
  producerExit: number | null | undefined;

  constructor(private readonly baseEnv: NodeJS.ProcessEnv) {}

  add(name: string, service: Child['service'], env: Record<string, string>): Child {
    const child: Child = { name, service, env, restarts: 0, quickDeaths: 0, startedAt: 0 };
    this.children.push(child);
    this.spawn(child);
    return child;
  }

  private spawn(child: Child): void {
    const args = ['--import', 'tsx', entry(child.service)];
    const proc = spawn(process.execPath, args, {
      cwd: root,
      env: { ...this.baseEnv, ...child.env },
      // Own process group: Ctrl-C reaches the stack, which then stops the children in order.
      detached: true,
      // The IPC channel tells the child when the stack is gone (it then shuts down by itself).
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.process = proc;
    child.startedAt = performance.now();
    const color = child.service === 'producer' ? 36 : child.service === 'board' ? 35 : 33;
    const label = paint(color, `[${child.name}]`);
    for (const [from, stream] of [
      ['stdout', proc.stdout],
      ['stderr', proc.stderr],
    ] as const) {
      if (stream) createInterface({ input: stream }).on('line', (line) => relay(label, line, from));
    }
    proc.on('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return;
    if (child.service === 'producer') {
      this.producerExit = code;
      if (code === 0) {
        say('producer finished (MAX_OPERATIONS reached)');
        return;
      }
    }
    if (code === 2) {
      // A configuration error: restarting cannot help.
      this.fatal = { code: 2, reason: `${child.name} rejected its configuration` };
      return;
    }
    if (child.service === 'board') {
      say(`board exited (${signal ?? code}); the rest keeps running`);
      return;
    }
    child.restarts++;
    child.quickDeaths = performance.now() - child.startedAt < HEALTHY_RUN_MS ? child.quickDeaths + 1 : 1;
    if (child.quickDeaths >= RESTART_BUDGET) {
      // A backend that is down (DynamoDB, Redis) kills every restart the same way: say it and stop.
      this.fatal = {
        code: 1,
        reason: `${child.name} died ${child.quickDeaths} times in a row, each within ${HEALTHY_RUN_MS / 1000} s of starting (last: ${signal ?? `exit ${code}`}): giving up. Its last lines above say why.`,
      };
      return;
    }
    const delay = Math.min(1000 * child.restarts, 10_000);
    say(
      `${child.name} died (${signal ?? `exit ${code}`}); restarting in ${delay} ms. Its jobs return to the queue when their locks expire.`,
    );
    setTimeout(() => {
      if (!this.stopping) this.spawn(child);
    }, delay).unref();
  }

  get failure() {
    return this.fatal;
  }

  /**
   * SIGTERM to every child; workers finish their in-flight jobs (SHUTDOWN_TIMEOUT_MS). A child still
   * running at `deadline` (epoch ms) is killed.
   */
  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    const running = this.children.filter(
      (c) => c.process && c.process.exitCode === null && c.process.signalCode === null,
    );
    await Promise.all(
      running.map(async (c) => {
        const proc = c.process as ChildProcess;
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        const done = await withDeadline(exited, deadline);
        if (!done) {
          say(`${c.name} did not stop in time; killing it`);
          proc.kill('SIGKILL');
          // Bounded too: a child that SIGKILL cannot end at once (stuck in the kernel) must not hold the stop.
          await withDeadline(exited, Date.now() + KILLED_EXIT_MS);
        }
      }),
    );
  }
}
