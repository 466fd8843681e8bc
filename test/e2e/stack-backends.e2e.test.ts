// `npm start` with backends that are configured but not there, as a user meets it (the real stack,
// a child process): a configured Redis or DynamoDB that does not answer is refused with one clear
// message, never replaced or retried forever; a worker that keeps dying is given up on; and
// --until-drained ends by its --timeout when the work cannot drain.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { redisAnswers } from '../../devtools/local-services.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { freePort } from '../helpers/services.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const services: Service[] = [];
const dirs: string[] = [];
let resources: TestResources | undefined;
let fakeDynamo: Server | undefined;

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await resources?.cleanup();
  resources = undefined;
  await new Promise((resolve) => (fakeDynamo ? fakeDynamo.close(resolve) : resolve(undefined)));
  fakeDynamo = undefined;
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'djq-stack-backends-'));
  dirs.push(dir);
  return dir;
}

/** The stack in a directory of its own, with its own TMPDIR, so what it leaves behind shows. */
function startStack(env: Record<string, string>, args: string[]) {
  const tmp = tempDir();
  const stack = startService('stack/start.ts', { ...env, TMPDIR: tmp }, args, tempDir());
  services.push(stack);
  return { stack, tmp };
}

describe('npm start with a configured backend that does not answer', () => {
  it('refuses an unreachable REDIS_URL instead of starting a redis-server in its place', async () => {
    const { env } = testEnv({ BOARD_PORT: 0 });
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;

    const { stack, tmp } = startStack({ ...env, REDIS_URL: deadRedis }, ['--max-operations', '1']);
    const { code } = await stack.exited;

    const output = stack.output();
    expect(code, output).toBe(2);
    expect(output).toContain(`Redis: nothing answers at REDIS_URL=${deadRedis}`);
    expect(output).toMatch(/unset it to let npm start run a redis-server of its own/);
    expect(output).not.toMatch(/started redis-server/);
    // No throwaway server's directory left behind (tsx keeps its cache there too).
    expect(readdirSync(tmp).filter((name) => name.startsWith('djq-redis-'))).toEqual([]);
  });

  it('refuses an unreachable AWS_ENDPOINT_URL_DYNAMODB at once, instead of restarting services forever', async () => {
    const { env } = testEnv({ BOARD_PORT: 0 });
    const deadDynamo = `http://127.0.0.1:${await freePort()}`;

    const { stack } = startStack({ ...env, AWS_ENDPOINT_URL_DYNAMODB: deadDynamo }, ['--max-operations', '1']);
    const { code } = await stack.exited;

    const output = stack.output();
    expect(code, output).toBe(2);
    expect(output).toContain(`DynamoDB: nothing answers at AWS_ENDPOINT_URL_DYNAMODB=${deadDynamo}`);
    expect(output).not.toMatch(/restarting in/);
  });

  it('gives up, exit 1, on a service that dies at every start (a DynamoDB that answers only errors)', async () => {
    // Answers HTTP, as a misconfigured proxy would, but every call is a non-retryable error.
    fakeDynamo = createServer((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'com.amazon.coral.validate#ValidationException', message: 'not DynamoDB' }));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => fakeDynamo?.listen(port, '127.0.0.1', resolve));
    const { env } = testEnv({ BOARD_PORT: 0, AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}` });
    resources = await openTestResources(testEnv().config); // Redis keys of the run are the test's own

    const { stack } = startStack(env, ['--workers', '1', '--max-operations', '1']);
    const { code } = await stack.exited;

    const output = stack.output();
    expect(code, output.slice(-3000)).toBe(1);
    // Both the worker and the producer die at every start (each opens the table); whichever reaches
    // the budget first stops the stack.
    expect(output).toMatch(/(worker-1|producer) died 5 times in a row, each within 30 s of starting .*giving up/);
  }, 120_000);
});

/** The first output line matching `pattern`, as it comes. */
function lineMatching(service: Service, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve) => {
    service.onLine((line) => {
      const match = pattern.exec(line);
      if (match) resolve(match);
    });
  });
}

const OWN_REDIS = /started redis-server on (redis:\/\/127\.0\.0\.1:\d+) \(data in (\S+), removed on exit/;

describe('npm start with no REDIS_URL', () => {
  it('runs a redis-server of its own, and removes it and its directory when the run ends', async () => {
    const { REDIS_URL: _unset, ...env } = testEnv({ BOARD_PORT: 0 }).env;

    const { stack, tmp } = startStack(env, [
      ...['--workers', '1', '--max-operations', '10', '--interval', '10', '--per-tick', '5', '--until-drained'],
    ]);
    const [, url = '', dir = ''] = await lineMatching(stack, OWN_REDIS);
    expect(dir.startsWith(tmp)).toBe(true);
    const { code } = await stack.exited;

    expect(code, stack.output().slice(-3000)).toBe(0);
    // BOARD_PORT=0: the URL it printed names the port the board got, not :0.
    expect(stack.output()).toMatch(
      /console at http:\/\/127\.0\.0\.1:[1-9]\d*\/console · Bull Board at http:\/\/127\.0\.0\.1:[1-9]\d*\/admin\/queues/,
    );
    expect(existsSync(dir)).toBe(false);
    expect(await redisAnswers(url, 500)).toBe(false);
  });

  it('removes them on an exit without a clean stop too (a second Ctrl-C)', async () => {
    const { REDIS_URL: _unset, ...env } = testEnv({ BOARD_PORT: 0 }).env;

    const { stack } = startStack(env, ['--workers', '1']);
    const [, url = '', dir = ''] = await lineMatching(stack, OWN_REDIS);
    await lineMatching(stack, /Ctrl-C stops everything cleanly/);
    const stopping = lineMatching(stack, /stopping: workers finish their in-flight jobs first/);
    stack.process.kill('SIGINT');
    // The second Ctrl-C, while the first one's clean stop waits for the workers, exits at once (130).
    await stopping;
    stack.process.kill('SIGINT');
    const { code } = await stack.exited;

    expect(code).toBe(130);
    expect(existsSync(dir)).toBe(false);
    expect(await redisAnswers(url, 500)).toBe(false);
  });
});

/** A TCP proxy to `target` that can be closed for good: new connections are then refused. */
async function closableProxy(target: URL) {
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

describe('npm start with a backend that dies during the run', () => {
  it('says "DynamoDB unreachable since …" on every summary while it is down', async () => {
    const { env, config } = testEnv({ BOARD_PORT: 0 });
    resources = await openTestResources(config);
    const proxy = await closableProxy(new URL(env.AWS_ENDPOINT_URL_DYNAMODB as string));

    const { stack } = startStack({ ...env, AWS_ENDPOINT_URL_DYNAMODB: proxy.url }, ['--workers', '1', '--json']);
    await lineMatching(stack, /"summary"/);
    const UNREACHABLE = /^\[stack\] (\{"unreachable".*)$/;
    const unreachable = lineMatching(stack, UNREACHABLE);
    await proxy.close();
    const [, line = ''] = await unreachable;

    const said = JSON.parse(line) as { unreachable: Record<string, string> };
    expect(said.unreachable).toMatchObject({ backend: 'DynamoDB', at: proxy.url });
    expect(Number.isNaN(Date.parse(said.unreachable.since as string))).toBe(false);
    // The next summary says it again, with the same time it went down.
    const [, again = ''] = await lineMatching(stack, UNREACHABLE);
    expect(again).toContain(`"since":"${said.unreachable.since}"`);
  }, 90_000);
});

describe('npm start --until-drained', () => {
  it('ends by its --timeout, exit 1, when the work cannot drain', async () => {
    // Every DynamoDB call of the services takes a minute: nothing completes within the run.
    const { env, config } = testEnv({ BOARD_PORT: 0, FAULT_LATENCY_MS: 60_000, SHUTDOWN_TIMEOUT_MS: 1000 });
    resources = await openTestResources(config);

    const started = performance.now();
    const { stack } = startStack(env, [
      ...['--workers', '1', '--max-operations', '2', '--interval', '10', '--until-drained', '--timeout', '3'],
    ]);
    const { code } = await stack.exited;

    const output = stack.output();
    expect(code, output.slice(-3000)).toBe(1);
    expect(output).toMatch(/not drained after 3 s \(--timeout\): stopping, exit 1/);
    const last = JSON.parse(output.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
    expect(last).toMatchObject({ drained: false, timeoutSeconds: 3, completed: 0 });
    // 3 s, then a stop bounded by SHUTDOWN_TIMEOUT_MS and a short grace, whatever the workers do.
    expect(performance.now() - started).toBeLessThan(30_000);
  });
});
