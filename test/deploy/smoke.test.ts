// What the images would run, minus Docker: build the project from the Docker build context the
// way the Dockerfiles' build stage does, keep only production dependencies as the runtime stage
// does, and run the compiled worker and producer with plain node against Redis and dynalite.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClients, type DynamoClients } from '../../shared/dynamo/client.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import type { Config } from '../../shared/runtime/config.js';
import { freePort } from '../helpers/services.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';
import { dockerignoreExcludes, dockerignorePatterns, ROOT, repoFiles } from './support.js';

const run = promisify(execFile);
const MAX_OPERATIONS = 20;

let workdir = '';
const children: ChildProcess[] = [];

/** A child with its output kept, to show in a failure. */
function start(script: string, env: Record<string, string>, args: string[] = []) {
  let output = '';
  const child = spawn(process.execPath, [script, ...args], {
    cwd: workdir,
    // Only what the container would have: no NODE_OPTIONS or loaders from the test runner.
    env: { PATH: process.env.PATH ?? '', HOME: workdir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout?.on('data', (d) => {
    output += String(d);
  });
  child.stderr?.on('data', (d) => {
    output += String(d);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

async function within<T>(promise: Promise<T>, ms: number, what: string, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms; output:\n${output()}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'djq-image-'));
  // The build context: exactly the files .dockerignore lets in.
  const patterns = dockerignorePatterns();
  for (const file of repoFiles().filter((f) => !dockerignoreExcludes(patterns, f))) {
    mkdirSync(dirname(join(workdir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(workdir, file));
  }
  // Build stage: dev dependencies (the repository's own, already installed as `npm ci` would) and tsc.
  symlinkSync(join(ROOT, 'node_modules'), join(workdir, 'node_modules'), 'dir');
  await run('npm', ['run', 'build'], { cwd: workdir });
  unlinkSync(join(workdir, 'node_modules'));
  // Runtime stage: production dependencies only, from the lockfile.
  await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: workdir,
  });
  // As the Dockerfiles' runtime stage does: typescript is only valibot's optional peer.
  rmSync(join(workdir, 'node_modules/typescript'), { recursive: true, force: true });
}, 180_000);

/**
 * Runs a Dockerfile's HEALTHCHECK command as Docker would inside that container: its /app is our
 * workdir, and since PID 1 here is not the service, the service's pid is passed as an argument.
 */
async function healthcheck(dockerfile: string, pid: number, env: Record<string, string>): Promise<number | null> {
  const instruction = readFileSync(join(ROOT, dockerfile), 'utf8').match(/^\s*CMD (\[.*\])$/m)?.[1] ?? '[]';
  const [command = '', ...args] = (JSON.parse(instruction) as string[]).map((a) =>
    a.replace(/^\/app\//, `${workdir}/`),
  );
  const check = start(command === 'node' ? (args.shift() ?? '') : command, env, [...args, String(pid)]);
  return within(check.exited, 10_000, `${dockerfile} HEALTHCHECK`, check.output);
}

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

/** Removes a run's Redis keys and its table, and closes both clients. */
async function dropRun(config: Config, redis: Redis, dynamo: DynamoClients): Promise<void> {
  await deleteKeys(redis, queueKeys(config).everyKeyPattern);
  redis.disconnect();
  await dynamo.client.send(new DeleteTableCommand({ TableName: config.DYNAMODB_TABLE_NAME })).catch(() => undefined);
  dynamo.close();
}

describe('the compiled services, run as the images run them', () => {
  it('have no dev dependency or tsx to lean on', () => {
    expect(existsSync(join(workdir, 'dist/worker/main.js'))).toBe(true);
    expect(existsSync(join(workdir, 'dist/producer/main.js'))).toBe(true);
    expect(existsSync(join(workdir, 'node_modules/bullmq'))).toBe(true);
    expect(existsSync(join(workdir, 'node_modules/tsx'))).toBe(false);
    expect(existsSync(join(workdir, 'node_modules/vitest'))).toBe(false);
    // The embedded DynamoDB of npm start and the tests is a dev dependency, and no image builds stack/.
    expect(existsSync(join(workdir, 'node_modules/dynalite'))).toBe(false);
    expect(existsSync(join(workdir, 'dist/stack'))).toBe(false);
    expect(existsSync(join(workdir, 'dist/devtools'))).toBe(false);
  });

  it('process the jobs: worker healthy, producer exits 0 after MAX_OPERATIONS, worker drains on SIGTERM', async () => {
    const { env, config } = testEnv({ MAX_OPERATIONS, OPERATION_INTERVAL_MS: 50, OPERATIONS_PER_TICK: 2 });
    const metricsPort = await freePort();
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
    const names = queueKeys(config);
    const operations = new Queue(names.operations, { connection: redis, prefix: config.QUEUE_PREFIX });
    const deadLetter = new Queue(names.deadLetter, { connection: redis, prefix: config.QUEUE_PREFIX });
    const dynamo = createDynamoClients(config);
    try {
      const worker = start('dist/worker/main.js', { ...env, METRICS_PORT: String(metricsPort) });
      const healthy = async () => {
        for (;;) {
          if (worker.child.exitCode !== null) throw new Error(`worker exited:\n${worker.output()}`);
          const ok = await fetch(`http://127.0.0.1:${metricsPort}/healthz`).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) return;
          await sleep(100);
        }
      };
      await within(healthy(), 30_000, 'worker /healthz', worker.output);

      const producer = start('dist/producer/main.js', env);
      expect(await within(producer.exited, 30_000, 'producer', producer.output)).toBe(0);

      // Every job settled: completed, or dead-lettered after its attempts.
      const settled = async () => {
        for (;;) {
          const counts = await operations.getJobCounts('completed', 'waiting', 'active', 'delayed', 'prioritized');
          const dead = await deadLetter.getJobCounts('waiting', 'completed', 'failed');
          const pending =
            (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
          const done = (counts.completed ?? 0) + (dead.waiting ?? 0) + (dead.completed ?? 0) + (dead.failed ?? 0);
          if (pending === 0 && done >= MAX_OPERATIONS) return { completed: counts.completed ?? 0, done };
          await sleep(100);
        }
      };
      const result = await within(settled(), 30_000, 'processing', worker.output);
      expect(result.done).toBe(MAX_OPERATIONS);
      expect(result.completed).toBeGreaterThan(0);

      worker.child.kill('SIGTERM');
      expect(await within(worker.exited, 30_000, 'worker shutdown', worker.output)).toBe(0);
    } finally {
      await operations.close();
      await deadLetter.close();
      await dropRun(config, redis, dynamo);
    }
  });

  it("pass each image's HEALTHCHECK for the role it runs: worker, worker with METRICS_PORT=0, board", async () => {
    const { env, config } = testEnv({ LOG_LEVEL: 'warn' });
    const [metricsPort, boardPort] = [await freePort(), await freePort()];
    const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
    const dynamo = createDynamoClients(config);
    const answers = async (url: string, who: ReturnType<typeof start>) => {
      for (;;) {
        if (who.child.exitCode !== null) throw new Error(`exited:\n${who.output()}`);
        if (
          await fetch(url).then(
            (r) => r.ok,
            () => false,
          )
        )
          return;
        await sleep(100);
      }
    };
    try {
      const worker = start('dist/worker/main.js', { ...env, METRICS_PORT: String(metricsPort) });
      await within(answers(`http://127.0.0.1:${metricsPort}/healthz`, worker), 30_000, 'worker', worker.output);
      expect(
        await healthcheck('Dockerfile.worker', worker.child.pid ?? 0, { ...env, METRICS_PORT: String(metricsPort) }),
      ).toBe(0);

      // The endpoint is off: the container is as healthy as its running process.
      const quiet = start('dist/worker/main.js', { ...env, METRICS_PORT: '0' });
      await new Promise((resolve) => quiet.child.once('spawn', resolve));
      expect(await healthcheck('Dockerfile.worker', quiet.child.pid ?? 0, { ...env, METRICS_PORT: '0' })).toBe(0);

      // The board, from the producer image, listens on BOARD_PORT only (METRICS_PORT stays the default).
      const boardEnv = { ...env, METRICS_PORT: '', BOARD_PORT: String(boardPort), BOARD_HOST: '0.0.0.0' };
      const board = start('dist/board/main.js', boardEnv);
      await within(answers(`http://127.0.0.1:${boardPort}/healthz`, board), 30_000, 'board', board.output);
      expect(await healthcheck('Dockerfile.producer', board.child.pid ?? 0, boardEnv)).toBe(0);

      // And the check can fail: nothing listens on the port it asks.
      board.child.kill('SIGTERM');
      await within(board.exited, 30_000, 'board shutdown', board.output);
      expect(
        await healthcheck('Dockerfile.producer', process.pid, { ...boardEnv, METRICS_PORT: String(await freePort()) }),
      ).toBe(1);
      for (const child of [worker, quiet]) {
        child.child.kill('SIGTERM');
        await within(child.exited, 30_000, 'worker shutdown', child.output);
      }
    } finally {
      await dropRun(config, redis, dynamo);
    }
  });
});
