// Scenario: shutdown with everything against it. DynamoDB stops answering (a proxy that accepts
// connections and swallows every request) while jobs are in flight, with request timeouts far
// beyond the shutdown deadline; stdout is a pipe nobody reads (full); and the stack is stopped the
// way supervisors stop things: only `npm` is signalled (kill -TERM <npm pid>), or `npm start`'s
// parent is SIGKILLed. A worker started on its own with an unread stdout is SIGTERMed beside it.
// Every process of the tree must be gone within SHUTDOWN_TIMEOUT_MS + 5 s; then a fresh worker
// finishes what they abandoned, and the checker finds nothing lost or applied twice.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGone, processTree, waitChannels, waitGone } from '../process-tree.js';
import { removeDir, track, trackDir } from '../processes.js';
import { type Expectation, expect, result, type ScenarioResult } from '../scenario.js';
import { ChaosStack } from '../stack.js';
import { StallingProxy } from '../stalling-proxy.js';
import { FULL_PIPE_BYTES, UnreadPipe } from '../unread-pipe.js';

const SHUTDOWN_TIMEOUT_MS = 3000;
/** What the issue allows: every process gone within SHUTDOWN_TIMEOUT_MS + 5 s of the signal. */
const EXIT_BOUND_MS = SHUTDOWN_TIMEOUT_MS + 5000;
/** Jobs waiting in Redis before DynamoDB stalls: the workers' work once it does. */
const BACKLOG = 30;
/** Jobs the workers hold, stuck in DynamoDB calls, before the signal. */
const ACTIVE_AT_SIGNAL = 3;
const root = join(import.meta.dirname, '..', '..');
const tsx = import.meta.resolve('tsx');

const ENV = {
  SHUTDOWN_TIMEOUT_MS,
  // Far beyond the deadline: only the shutdown's own deadline can end a call stuck at the stall.
  DYNAMODB_REQUEST_TIMEOUT_MS: 600_000,
  // Abandoned jobs come back quickly for the worker that finishes the run.
  LOCK_DURATION_MS: 4000,
  STALLED_INTERVAL_MS: 2000,
  // A line per attempt started and per job completed: the unread pipes fill within seconds.
  LOG_LEVEL: 'debug',
  BOARD_PORT: 0,
};

type How = 'npm-sigterm' | 'parent-sigkill';

interface CaseResult {
  how: How;
  /** Processes in the tree at the signal: npm, the stack, its workers, producer and board, the lone worker. */
  processes: number;
  services: string[];
  stuckRequests: number;
  activeAtSignal: number;
  /** From the signal until the last process was gone (undefined: some were still there at the bound). */
  goneAfterMs: number | undefined;
  leftovers: string[];
  unreadBytes: { npm: number; worker: number };
}

export async function stuckBackendShutdown(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const stack = await ChaosStack.start('stuck-backend-shutdown', ENV);
  try {
    const cases: CaseResult[] = [];
    for (const how of ['npm-sigterm', 'parent-sigkill'] as const) cases.push(await runCase(stack, how, jobs));

    // What the stopped processes abandoned (stuck jobs, maybe an uncommitted tick) is finished by
    // a restarted producer (it re-adds an uncommitted record, then adds one job) and a fresh worker.
    const producer = stack.startProducer({ MAX_OPERATIONS: 1 });
    stack.startWorker();
    stack.startWorker();
    const drained = await stack.waitDrained({ producer, timeoutMs: 180_000 });
    const report = await stack.check();
    const expectations: Expectation[] = cases.flatMap((c) => caseExpectations(c));
    expectations.push(expect('the abandoned jobs were finished afterwards', drained));
    return result({
      scenario: 'stuck-backend-shutdown',
      size: jobs,
      report,
      faults: Object.fromEntries(
        cases.flatMap((c) => [
          [`${c.how}.goneAfterMs`, c.goneAfterMs ?? 'not gone'],
          [`${c.how}.processes`, c.processes],
          [`${c.how}.stuckRequests`, c.stuckRequests],
          [`${c.how}.activeAtSignal`, c.activeAtSignal],
        ]),
      ),
      faultSummary: `DynamoDB hangs, stdout unread: ${cases
        .map(
          (c) =>
            `${c.how} → ${c.processes} processes gone in ${c.goneAfterMs === undefined ? 'NEVER' : `${(c.goneAfterMs / 1000).toFixed(1)} s`}`,
        )
        .join('; ')}`,
      expectations,
      startedAt,
      extra: { cases },
    });
  } finally {
    await stack.stop();
  }
}

function caseExpectations(c: CaseResult): Expectation[] {
  const wanted = ['stack/start', 'worker/main', 'producer/main', 'board/main'];
  const missing = wanted.filter((w) => !c.services.some((s) => s.includes(w)));
  return [
    expect(`${c.how}: the whole tree was running at the signal`, missing.length === 0, `${c.services.join(', ')}`),
    expect(
      `${c.how}: jobs were stuck in DynamoDB calls at the signal`,
      c.stuckRequests >= 3 && c.activeAtSignal > 0,
      `${c.stuckRequests} DynamoDB requests hanging, ${c.activeAtSignal} jobs active`,
    ),
    expect(
      `${c.how}: every process gone within SHUTDOWN_TIMEOUT_MS + 5 s`,
      c.goneAfterMs !== undefined && c.leftovers.length === 0,
      c.goneAfterMs !== undefined ? `${c.goneAfterMs} ms` : `still there: ${c.leftovers.join(' | ')}`,
    ),
    expect(
      `${c.how}: stdout was a full pipe nobody read`,
      c.unreadBytes.npm >= FULL_PIPE_BYTES && c.unreadBytes.worker >= FULL_PIPE_BYTES,
      `${c.unreadBytes.npm} bytes unread from npm start, ${c.unreadBytes.worker} from the lone worker`,
    ),
  ];
}

async function runCase(stack: ChaosStack, how: How, jobs: number): Promise<CaseResult> {
  const proxy = await StallingProxy.start(stack.dynalite.endpoint);
  const dir = mkdtempSync(join(tmpdir(), `djq-chaos-${how}-`));
  trackDir(dir);
  const npmOut = UnreadPipe.open(dir, 'npm.out');
  const workerOut = UnreadPipe.open(dir, 'worker.out');
  npmOut.prefill();
  workerOut.prefill();
  const spawned: ChildProcess[] = [];
  try {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...stack.env,
      AWS_ENDPOINT_URL_DYNAMODB: proxy.endpoint,
    };
    const finishedBefore = await stack.finished();
    // `npm start` exactly as a user runs it, from a directory of its own so its .djq/stack.json
    // does not replace the state file of a stack someone runs in this checkout.
    const cwd = join(dir, 'checkout');
    mkdirSync(cwd);
    for (const entry of ['package.json', 'node_modules', 'stack']) symlinkSync(join(root, entry), join(cwd, entry));
    const npm = spawn('npm', ['start', '--', '--workers', '2', '--interval', '50', '--per-tick', '3'], {
      cwd,
      env,
      stdio: ['ignore', npmOut.writeFd, npmOut.writeFd],
    });
    const worker = spawn(process.execPath, ['--import', tsx, join(root, 'worker/main.ts')], {
      cwd: root,
      env: { ...env, WORKER_ID: `lone-${how}` },
      stdio: ['ignore', workerOut.writeFd, workerOut.writeFd],
    });
    for (const child of [npm, worker]) {
      track(child);
      spawned.push(child);
    }
    npmOut.closeWriter();
    workerOut.closeWriter();

    // Running for real: the stack's workers and the lone one consume, and jobs complete.
    const ready = async () => {
      const consumers = await stack.consumingWorkerIds();
      const finished = (await stack.finished()) - finishedBefore;
      return consumers.has(`lone-${how}`) && consumers.has('worker-1') && consumers.has('worker-2') && finished >= jobs;
    };
    await until(ready, 180_000, [npm, worker]).catch((error: Error) => {
      const output = (pipe: UnreadPipe) => pipe.drain().toString().slice(0, 3000);
      throw new Error(
        `${how}: the stack never got going: ${error.message}\nnpm start said: ${output(npmOut)}\nthe lone worker said: ${output(workerOut)}`,
      );
    });

    // Jobs must be in workers, stuck in DynamoDB calls, at the signal. The producer records each
    // job in DynamoDB before it adds it to Redis, so once DynamoDB hangs nothing new reaches the
    // queue: a backlog is piled up first (the queue paused until it waits), then DynamoDB stalls
    // and the queue resumes, so the workers take jobs whose DynamoDB calls hang.
    const { operations } = stack.queues;
    await operations.pause();
    await until(async () => (await operations.getWaitingCount()) >= BACKLOG, 60_000, [npm, worker]).catch(
      (error: Error) => {
        throw new Error(`${how}: no backlog of ${BACKLOG} jobs piled up: ${error.message}`);
      },
    );
    proxy.stall();
    // Every DynamoDB call from now on hangs, and so do those whose answer had not come back yet.
    await operations.resume();
    await proxy.waitStuck(3, 30_000);
    await until(async () => (await operations.getActiveCount()) >= ACTIVE_AT_SIGNAL, 30_000, [npm, worker]).catch(
      (error: Error) => {
        throw new Error(`${how}: jobs never got stuck in the workers: ${error.message}`);
      },
    );
    const activeAtSignal = await operations.getActiveCount();
    const tree = [...processTree(npm.pid ?? -1), ...processTree(worker.pid ?? -1)];

    const signalledAt = Date.now();
    npm.kill(how === 'npm-sigterm' ? 'SIGTERM' : 'SIGKILL');
    worker.kill('SIGTERM');
    const left = await waitGone(
      tree.map((p) => p.pid),
      signalledAt + EXIT_BOUND_MS,
    );
    const goneAfterMs = left.length === 0 ? Date.now() - signalledAt : undefined;
    const leftovers = tree
      .filter((p) => left.includes(p.pid))
      .map((p) => `${p.pid} ${p.command} (waiting in ${waitChannels(p.pid)})`);
    // Leftovers fail the case; they must not outlive it either.
    for (const pid of left) killQuietly(pid);
    await waitGone(left, Date.now() + 5000);
    return {
      how,
      processes: tree.length,
      services: tree.map((p) => p.command),
      stuckRequests: proxy.stuck,
      activeAtSignal,
      goneAfterMs,
      leftovers,
      unreadBytes: { npm: npmOut.drain().length, worker: workerOut.drain().length },
    };
  } finally {
    for (const child of spawned) if (!isGone(child.pid ?? -1)) child.kill('SIGKILL');
    // A case that failed between pause and resume must not leave the queue paused for the rest.
    await stack.queues.operations.resume();
    npmOut.close();
    workerOut.close();
    await proxy.close();
    removeDir(dir);
  }
}

/** Waits for `condition`, failing early if one of `children` exits and at the deadline. */
async function until(condition: () => Promise<boolean>, timeoutMs: number, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    const dead = children.find((c) => c.exitCode !== null || c.signalCode !== null);
    if (dead) throw new Error(`${dead.spawnargs.join(' ')} exited ${dead.exitCode ?? dead.signalCode}`);
    if (Date.now() >= deadline) throw new Error(`not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
