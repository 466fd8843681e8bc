// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, expect, it } from 'vitest';
import { sentinelFailover } from '../../chaos/scenarios/sentinel-failover.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: sentinel-failover', () => {
  it('kill -9 of the Redis primary mid-run under Sentinel: nothing lost or applied twice, 0 restarts', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    // Loopback ports of this suite's own, so a parallel run's Redis servers are never hit.
    const result = await sentinelFailover(400, { portRange: [7560, 7599] });

    expectScenarioPassed(result);
    expect(result.faults.processRestarts).toBe(0);
    expect(result.faults.resumeMs).toBeGreaterThan(0);
  });
});
