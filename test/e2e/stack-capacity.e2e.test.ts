// `npm start -- --capacity N` as a user runs it: the stack puts the capacity limit in front of its own
// dynalite, every service goes through it, and the summary line carries its figures; with
// AWS_ENDPOINT_URL_DYNAMODB set it refuses, with one clear error, before starting anything.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

let resources: TestResources | undefined;
const services: Service[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  await resources?.cleanup();
  resources = undefined;
});

function startStack(env: Record<string, string>, args: string[]): Service {
  const cwd = mkdtempSync(join(tmpdir(), 'djq-stack-capacity-'));
  dirs.push(cwd);
  const stack = startService('stack/start.ts', env, args, cwd);
  services.push(stack);
  return stack;
}

interface SummaryLine {
  summary: {
    capacity?: { budgetUnitsPerSecond: number; writeUnitsPerSecond: number; throttled: number };
    heldBackByDynamo: { jobsPerSecond: number; now: boolean } | null;
  };
}

const summariesOf = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.startsWith('[stack] {"summary"'))
    .map((line) => JSON.parse(line.slice('[stack] '.length)) as SummaryLine);

describe('npm start --capacity', () => {
  it('runs every service through the capacity limit and reports it in the summary line', async () => {
    const env = testEnv({ BOARD_PORT: 0 });
    // Cleans up the run's Redis keys afterwards (the stack's own dynalite goes with the stack).
    resources = await openTestResources(env.config);
    const { AWS_ENDPOINT_URL_DYNAMODB: _shared, ...stackEnv } = env.env;

    const stack = startStack(stackEnv, [
      ...['--capacity', '10000', '--workers', '1', '--json', '--until-drained'],
      // Eight ticks a second apart: the run outlasts the first summary line (5 s after the start).
      ...['--max-operations', '40', '--interval', '1000', '--per-tick', '5'],
    ]);
    const { code } = await stack.exited;

    const output = stack.output();
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/DynamoDB capacity: 10000 read and 10000 write units per second/);
    const summaries = summariesOf(output);
    expect(summaries.length).toBeGreaterThan(0);
    for (const { summary } of summaries) {
      expect(summary.capacity).toMatchObject({ budgetUnitsPerSecond: 10000, throttled: 0 });
      expect(summary.heldBackByDynamo).toBeNull();
    }
    const last = JSON.parse(output.trim().split('\n').at(-1) ?? '') as { produced: number; completed: number };
    expect(last.produced).toBe(40);
  });

  it('says when DynamoDB holds the queue back, and drains anyway', { timeout: 150_000 }, async () => {
    const env = testEnv({ BOARD_PORT: 0 });
    resources = await openTestResources(env.config);
    const { AWS_ENDPOINT_URL_DYNAMODB: _shared, ...stackEnv } = env.env;

    // 40 jobs at once against a table of 20 units/s: several times what it gives, for seconds.
    const stack = startStack(stackEnv, [
      ...['--capacity', '20', '--workers', '2', '--json', '--until-drained'],
      ...['--max-operations', '40', '--interval', '1000', '--per-tick', '40'],
    ]);
    const { code } = await stack.exited;

    const output = stack.output();
    expect(code, output.slice(-3000)).toBe(0);
    // At least the last line, printed once the run drained: the fleet's rate outlives the run.
    const held = summariesOf(output).filter(({ summary }) => summary.heldBackByDynamo !== null);
    expect(held.length, output.slice(-3000)).toBeGreaterThan(0);
    expect(held[0]?.summary.heldBackByDynamo?.jobsPerSecond).toBeGreaterThanOrEqual(1);
    const last = JSON.parse(output.trim().split('\n').at(-1) ?? '') as { produced: number; completed: number };
    expect(last.produced).toBe(40);
  });

  it('refuses --capacity when AWS_ENDPOINT_URL_DYNAMODB is set', async () => {
    const env = testEnv();

    const stack = startStack(env.env, ['--capacity', '5']);
    const { code } = await stack.exited;

    expect(code).toBe(2);
    expect(stack.output()).toContain(
      `npm start: --capacity limits the embedded dynalite, but AWS_ENDPOINT_URL_DYNAMODB points at ${env.env.AWS_ENDPOINT_URL_DYNAMODB}`,
    );
  });
});
