// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { sentinelFailover } from '../../chaos/scenarios/sentinel-failover.js';
import { chaosScenarioTest, expectFailoverWithoutRestart } from './scenario-test.js';

chaosScenarioTest(
  'sentinel-failover',
  'kill -9 of the Redis primary mid-run under Sentinel: nothing lost or applied twice, 0 restarts',
  {
    // Loopback ports of this suite's own, so a parallel run's Redis servers are never hit.
    run: () => sentinelFailover(400, { portRange: [7560, 7599] }),
    alsoExpect: expectFailoverWithoutRestart,
  },
);
