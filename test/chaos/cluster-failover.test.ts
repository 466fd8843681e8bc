// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, expect, it } from 'vitest';
import { clusterFailover } from '../../chaos/scenarios/cluster-failover.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: cluster-failover', () => {
  it('kill -9 of a Redis Cluster master mid-run (5 s node timeout): nothing lost or applied twice, 0 restarts', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    // Loopback ports of this suite's own, so a parallel run's Redis servers are never hit. A 5 s
    // node timeout: long enough that BullMQ's watchdog resets a worker's blocking connection while
    // the dead master is still in the slot map (what parked the fetch loops before the fix, issue
    // 21), short enough for CI. `npm run chaos` runs Redis's default 15 s (docs/scale-out.md).
    const result = await clusterFailover(400, { portRange: [7530, 7559], nodeTimeoutMs: 5000 });

    expectScenarioPassed(result);
    expect(result.faults.processRestarts).toBe(0);
    expect(result.faults.resumeMs).toBeGreaterThan(0);
  });
});
