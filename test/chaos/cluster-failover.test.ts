// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, expect, it } from 'vitest';
import { clusterFailover } from '../../chaos/scenarios/cluster-failover.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: cluster-failover', () => {
  it('kill -9 of a Redis Cluster master mid-run (default 15 s node timeout): nothing lost or applied twice, 0 restarts', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    // Loopback ports of this suite's own, so a parallel run's Redis servers are never hit.
    const result = await clusterFailover(400, { portRange: [7400, 7599] });

    expectScenarioPassed(result);
    expect(result.faults.processRestarts).toBe(0);
    expect(result.faults.resumeMs).toBeGreaterThan(0);
  });
});
