// The chaos harness's capacity budget: workers and the producer reach dynalite through the capacity
// limit, the harness's own checker goes to dynalite directly (it must never be throttled), and the
// limit is closed with the stack. The budget is generous here: this is about wiring, not throttling.
import { describe, expect, it } from 'vitest';
import { ChaosStack } from '../../chaos/stack.js';
import { runWorkload } from '../../chaos/workload.js';
import { CHAOS_TIMEOUT_MS } from './expect-scenario.js';

const JOBS = 20;

describe('chaos: capacity budget wiring', () => {
  it('workers and producer go through the capacity limit; the checker does not', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const seen = await runWorkload(
      {
        scenario: 'capacity-wiring',
        jobs: JOBS,
        env: {},
        workers: 1,
        seconds: 2,
        capacity: { readUnitsPerSecond: 10_000, writeUnitsPerSecond: 10_000 },
      },
      async ({ stack, report, drained }) => {
        const limit = stack.capacityLimit;
        if (!limit) throw new Error('the stack has no capacity limit');
        const beforeCheck = limit.stats();
        const again = await stack.check();
        return {
          drained,
          report,
          again,
          beforeCheck,
          afterCheck: limit.stats(),
          processEndpoint: stack.env.AWS_ENDPOINT_URL_DYNAMODB,
          harnessEndpoint: stack.config.AWS_ENDPOINT_URL_DYNAMODB,
          limitEndpoint: limit.endpoint,
          dynaliteEndpoint: stack.dynalite.endpoint,
        };
      },
    );

    expect(seen.drained).toBe(true);
    expect(seen.report).toMatchObject({ enqueued: JOBS, lost: 0, duplicated: 0 });
    expect(seen.processEndpoint).toBe(seen.limitEndpoint);
    expect(seen.harnessEndpoint).toBe(seen.dynaliteEndpoint);
    // The workers' writes were metered: they went through the limit.
    expect(seen.beforeCheck.writeUnits).toBeGreaterThan(0);
    expect(seen.beforeCheck.throttled).toBe(0);
    // The checker read every table item and the limit saw none of it.
    expect(seen.again.enqueued).toBe(JOBS);
    expect(seen.afterCheck).toEqual(seen.beforeCheck);
    // stop() closed it: nothing listens there any more.
    await expect(fetch(seen.limitEndpoint, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  });

  it('without a budget there is no capacity limit, and processes talk to dynalite', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const stack = await ChaosStack.start('capacity-off');
    try {
      expect(stack.capacityLimit).toBeUndefined();
      expect(stack.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(stack.dynalite.endpoint);
    } finally {
      await stack.stop();
    }
  });
});
