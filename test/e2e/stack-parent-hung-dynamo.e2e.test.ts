// `npm start` whose parent dies while DynamoDB hangs must notice and stop at once. The stack looks
// for its parent every second, but its supervision loop used to sit in the summary's DynamoDB probe
// (up to ENDPOINT_PROBE_MS, 3 s, against an endpoint that takes requests and never answers) before
// looking at a stop: that, the loop's tick and the children's own deadline pushed the whole stop
// past SHUTDOWN_TIMEOUT_MS + 5 s (chaos: stuck-backend-shutdown, parent-sigkill). Here the parent
// is SIGKILLed the moment the probe hangs; the stack must start its stop well before the probe
// would have given up.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { processAlive } from '../../cli/stack-state.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { childEnv } from '../helpers/processes.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';

const root = join(import.meta.dirname, '..', '..');
/** stack/services.ts ENDPOINT_PROBE_MS: how long the summary's DynamoDB probe waits for an answer. */
const ENDPOINT_PROBE_MS = 3000;
const SHUTDOWN_TIMEOUT_MS = 3000;
const cleanups: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

describe('npm start whose parent dies while DynamoDB hangs', () => {
  it('stops without waiting for its DynamoDB probe', { timeout: 120_000 }, async () => {
    // Answers the stack's start-up probe (a GET), then takes every request and never answers one:
    // the services hang in their start-up table check, the stack's summary probe hangs.
    let answering = true;
    const hanging = new Set<ServerResponse>();
    const probes: { at: number }[] = [];
    let onHungProbe: (() => void) | undefined;
    const dynamo = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      if (answering && req.method === 'GET') {
        res.writeHead(400).end('{}');
        return;
      }
      hanging.add(res);
      if (req.method === 'GET') {
        probes.push({ at: Date.now() });
        onHungProbe?.();
      }
    });
    dynamo.listen(0, '127.0.0.1');
    await once(dynamo, 'listening');
    const { port } = dynamo.address() as { port: number };
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const res of hanging) res.destroy();
          dynamo.closeAllConnections();
          dynamo.close(() => resolve());
        }),
    );

    const { env, config } = testEnv({
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
      DYNAMODB_REQUEST_TIMEOUT_MS: 600_000,
      SHUTDOWN_TIMEOUT_MS,
      BOARD_PORT: 0,
      LOG_LEVEL: 'info',
    });
    cleanups.push(async () => {
      const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
      await deleteKeys(redis, queueKeys(config).everyKeyPattern);
      redis.disconnect();
    });

    // The stack's parent is a shell we can SIGKILL (as a supervisor kills `npm start`'s npm).
    // The stack's stdout is read throughout: this test is about the stop, not a full pipe.
    const parent: ChildProcess = spawn(
      'sh',
      ['-c', `"${process.execPath}" --import tsx stack/start.ts --workers 1 & echo "stack pid $!" >&2; wait`],
      {
        cwd: root,
        env: childEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    let stackPid = 0;
    cleanups.push(() => {
      parent.kill('SIGKILL');
      if (stackPid > 0 && processAlive(stackPid)) process.kill(stackPid, 'SIGKILL');
    });
    createInterface({ input: parent.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      const match = /^stack pid (\d+)$/.exec(line);
      if (match) stackPid = Number(match[1]);
      else output += `${line}\n`;
    });
    const lines = createInterface({ input: parent.stdout as NodeJS.ReadableStream });
    const lineAt = (pattern: RegExp) =>
      new Promise<number>((resolve) => {
        lines.on('line', (line) => {
          if (pattern.test(line)) resolve(Date.now());
        });
      });
    lines.on('line', (line) => {
      output += `${line}\n`;
    });
    const watching = lineAt(/Ctrl-C stops everything cleanly/);
    const stopping = lineAt(/stopping: workers finish their in-flight jobs first/);

    await watching; // its start-up probe was answered and it watches its parent now
    answering = false;
    const probeHangs = new Promise<void>((resolve) => {
      onHungProbe = resolve;
    });
    await probeHangs; // a summary's probe now waits on an endpoint that never answers
    expect(stackPid).toBeGreaterThan(0);

    parent.kill('SIGKILL');
    const killedAt = Date.now();
    const stopAfterMs =
      (await Promise.race([stopping, new Promise<number>((r) => setTimeout(() => r(Date.now()), 20_000))])) - killedAt;
    const gone = await waitGone(stackPid, SHUTDOWN_TIMEOUT_MS + 5000 - (Date.now() - killedAt));

    // Its parent check (every second) plus a tick, not the probe's ENDPOINT_PROBE_MS on top.
    expect(stopAfterMs, output.slice(-3000)).toBeLessThan(ENDPOINT_PROBE_MS - 500);
    expect(gone, output.slice(-3000)).toBe(true);
  });
});
