// Where djq acts, as an operator meets it (the real CLI, a child process): never real AWS unasked,
// and an explicit AWS_ENDPOINT_URL_DYNAMODB never silently replaced by a running stack's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStackState } from '../../devtools/stack-state.js';
import { startService } from '../helpers/processes.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const env = testEnv();
let resources: TestResources;
const dirs: string[] = [];

function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'djq-target-'));
  dirs.push(dir);
  return dir;
}

/** A directory where an `npm start` stack (this test process stands in for its pid) left its state. */
function stackDir(stackEnv: Record<string, string>): string {
  const dir = emptyDir();
  writeStackState(
    { pid: process.pid, startedAt: new Date().toISOString(), env: stackEnv, metricsPorts: {} },
    join(dir, '.djq', 'stack.json'),
  );
  return dir;
}

async function djq(cwd: string, childEnv: Record<string, string>, ...args: string[]) {
  const cli = startService('cli/djq.ts', childEnv, args, cwd);
  const { code } = await cli.exited;
  return { code, output: cli.output() };
}

const { REDIS_URL, AWS_ENDPOINT_URL_DYNAMODB, QUEUE_PREFIX, QUEUE_NAME, DYNAMODB_TABLE_NAME } = env.env;
const stackEnv = {
  REDIS_URL: REDIS_URL as string,
  AWS_ENDPOINT_URL_DYNAMODB: AWS_ENDPOINT_URL_DYNAMODB as string,
  QUEUE_PREFIX: QUEUE_PREFIX as string,
  QUEUE_NAME: QUEUE_NAME as string,
  DYNAMODB_TABLE_NAME: DYNAMODB_TABLE_NAME as string,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
};

beforeAll(async () => {
  resources = await openTestResources(env.config);
});

afterAll(async () => {
  await resources.cleanup();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('djq never reaches real AWS unasked', () => {
  it.each(['stats', 'dlq redrive --all', 'replay --rebuild'])(
    'djq %s with no endpoint and no stack refuses, saying what to set',
    async (line) => {
      // Credentials present, as on a laptop with an AWS profile: still refused.
      const { code, output } = await djq(
        emptyDir(),
        { AWS_ACCESS_KEY_ID: 'AKIA0', AWS_SECRET_ACCESS_KEY: 'x' },
        ...line.split(' '),
      );
      expect(code).toBe(2);
      expect(output).toMatch(/would act on real AWS; it will not unasked/);
      expect(output).toMatch(/AWS_ENDPOINT_URL_DYNAMODB=/);
      expect(output).toMatch(/--aws \(or set DJQ_TARGET=aws\)/);
      expect(output).not.toMatch(/cannot read table/); // refused before any call
    },
  );

  it('--aws together with an endpoint is a contradiction, said as such', async () => {
    const { code, output } = await djq(
      emptyDir(),
      { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' },
      'stats',
      '--aws',
    );
    expect(code).toBe(2);
    expect(output).toMatch(/--aws .* but AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:1 names another endpoint/);
  });

  it('a destructive command on AWS asks for --yes before connecting', async () => {
    const { code, output } = await djq(emptyDir(), { DJQ_TARGET: 'aws' }, 'dlq', 'purge', 'job-1');
    expect(code).toBe(2);
    expect(output).toMatch(/acting on table users-table in AWS us-east-1/);
    expect(output).toMatch(/add --yes to confirm/);
  });
});

describe('djq with a backend down', () => {
  it('says within seconds that Redis does not answer', async () => {
    const deadRedis = 'redis://127.0.0.1:1';
    const started = performance.now();
    const { code, output } = await djq(emptyDir(), { ...env.env, REDIS_URL: deadRedis }, 'stats');

    expect(code).toBe(1);
    expect(output).toContain(`cannot reach Redis at ${deadRedis} (from the environment; no answer within 2 s)`);
    // 2 s of waiting for Redis, plus the CLI's own start on two busy cores (it used to wait 5 s).
    expect(performance.now() - started).toBeLessThan(8000);
  });
});

describe('djq beside a running stack', () => {
  it('with nothing set, acts on the stack', async () => {
    const { code, output } = await djq(stackDir(stackEnv), {}, 'stats', '--json');
    expect(code, output).toBe(0);
    expect(JSON.parse(output)).toMatchObject({ source: `the npm start stack (pid ${process.pid})` });
  });

  it("an explicit AWS_ENDPOINT_URL_DYNAMODB that differs from the stack's is a clear conflict", async () => {
    const { code, output } = await djq(
      stackDir(stackEnv),
      { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' },
      'stats',
    );
    expect(code).toBe(2);
    expect(output).toContain(
      `AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:1 but the running npm start stack (pid ${process.pid}) uses ${AWS_ENDPOINT_URL_DYNAMODB}`,
    );
  });

  it('replay --rebuild with no worker live rebuilds, and names the plan', async () => {
    const { code, output } = await djq(emptyDir(), env.env, 'replay', '--rebuild', '--json');
    expect(code, output).toBe(0);
    expect(JSON.parse(output)).toMatchObject({
      liveWorkers: 0,
      plan: expect.stringMatching(/^rewrite every user row/),
    });
  });

  it('an explicit REDIS_URL and endpoint win over the stack file', async () => {
    // The stack's file names a dead Redis and endpoint: only the environment's are used.
    const dead = { ...stackEnv, REDIS_URL: 'redis://127.0.0.1:1', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1' };
    const { code, output } = await djq(stackDir(dead), env.env, 'stats', '--json');
    expect(code, output).toBe(0);
    expect(JSON.parse(output)).toMatchObject({ source: 'the environment' });
  });
});
