// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { clusterFailover } from '../../chaos/scenarios/cluster-failover.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: cluster-failover', () => {
  it('kill -9 of a Redis Cluster master mid-run, its replica promoted: nothing lost, nothing applied twice', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await clusterFailover(400);

    expectScenarioPassed(result);
  });
});
