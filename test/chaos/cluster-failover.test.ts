// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { clusterFailover } from '../../chaos/scenarios/cluster-failover.js';
import { chaosScenarioTest, expectFailoverWithoutRestart } from './scenario-test.js';

chaosScenarioTest(
  'cluster-failover',
  'kill -9 of a Redis Cluster master mid-run (5 s node timeout): nothing lost or applied twice, 0 restarts',
  {
    // Loopback ports of this suite's own, so a parallel run's Redis servers are never hit. A 5 s
    // node timeout: long enough that BullMQ's watchdog resets a worker's blocking connection while
    // the dead master is still in the slot map (what parked the fetch loops before the fix, issue
    // 21), short enough for CI. `npm run chaos` runs Redis's default 15 s (docs/scale-out.md).
    run: () => clusterFailover(400, { portRange: [7530, 7559], nodeTimeoutMs: 5000 }),
    alsoExpect: expectFailoverWithoutRestart,
  },
);
