// `npm start -- --capacity N` as a user runs it: the stack puts the capacity limit in front of its own
// dynalite, every service goes through it, and the summary line carries its figures; with
// AWS_ENDPOINT_URL_DYNAMODB set it refuses, with one clear error, before starting anything.
import { afterEach, describe, expect, it } from 'vitest';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';
import { useStackRuns, withOwnDynalite } from '../helpers/stack-runs.js';

const stacks = useStackRuns('stack-capacity');
let resources: TestResources | undefined;

afterEach(async () => {
  await resources?.cleanup();
  resources = undefined;
});

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

/**
 * 40 operations through a stack with `--capacity` (its own dynalite; the run's Redis keys cleaned
 * up afterwards), ticks a second apart, to a drained end: its exit code, output and last line.
 */
async function runWithCapacity(options: { capacity: number; workers: number; perTick: number }) {
  const env = testEnv({ BOARD_PORT: 0 });
  resources = await openTestResources(env.config);
  const { code, output } = await stacks.run(withOwnDynalite(env.env), [
    ...['--capacity', String(options.capacity), '--workers', String(options.workers), '--json', '--until-drained'],
    ...['--max-operations', '40', '--interval', '1000', '--per-tick', String(options.perTick)],
  ]);
  const last = () => JSON.parse(output.trim().split('\n').at(-1) ?? '') as { produced: number; completed: number };
  return { code, output, last };
}

describe('npm start --capacity', () => {
  it('runs every service through the capacity limit and reports it in the summary line', async () => {
    // Eight ticks a second apart: the run outlasts the first summary line (5 s after the start).
    const { code, output, last } = await runWithCapacity({ capacity: 10000, workers: 1, perTick: 5 });

    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/DynamoDB capacity: 10000 read and 10000 write units per second/);
    const summaries = summariesOf(output);
    expect(summaries.length).toBeGreaterThan(0);
    for (const { summary } of summaries) {
      expect(summary.capacity).toMatchObject({ budgetUnitsPerSecond: 10000, throttled: 0 });
      expect(summary.heldBackByDynamo).toBeNull();
    }
    expect(last().produced).toBe(40);
  });

  it('says when DynamoDB holds the queue back, and drains anyway', { timeout: 150_000 }, async () => {
    // 40 jobs at once against a table of 20 units/s: several times what it gives, for seconds.
    const { code, output, last } = await runWithCapacity({ capacity: 20, workers: 2, perTick: 40 });

    expect(code, output.slice(-3000)).toBe(0);
    // At least the last line, printed once the run drained: the fleet's rate outlives the run.
    const held = summariesOf(output).filter(({ summary }) => summary.heldBackByDynamo !== null);
    expect(held.length, output.slice(-3000)).toBeGreaterThan(0);
    expect(held[0]?.summary.heldBackByDynamo?.jobsPerSecond).toBeGreaterThanOrEqual(1);
    expect(last().produced).toBe(40);
  });

  it('refuses --capacity when AWS_ENDPOINT_URL_DYNAMODB is set', async () => {
    const env = testEnv();

    const { code, output } = await stacks.run(env.env, ['--capacity', '5']);

    expect(code).toBe(2);
    expect(output).toContain(
      `npm start: --capacity limits the embedded dynalite, but AWS_ENDPOINT_URL_DYNAMODB points at ${env.env.AWS_ENDPOINT_URL_DYNAMODB}`,
    );
  });
});
