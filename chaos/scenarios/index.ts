// Every scenario, in the order `npm run chaos` runs them, with its full and its --small size.
import type { Scenario } from '../scenario.js';
import { badInput } from './bad-input.js';
import { capacityScenario } from './capacity.js';
import { clusterFailover } from './cluster-failover.js';
import { dynamoFaults } from './dynamo-faults.js';
import { killWorkers } from './kill-workers.js';
import { liveCheck } from './live-check.js';
import { mixed, soak } from './mixed.js';
import { operatorRaces } from './operator-races.js';
import { pausePastLock } from './pause-past-lock.js';
import { poison } from './poison.js';
import { producerKill } from './producer-kill.js';
import { redisLoss } from './redis-loss.js';
import { redisRestart } from './redis-restart.js';
import { sentinelFailover } from './sentinel-failover.js';
import { sigterm } from './sigterm.js';
import { slowDynamo } from './slow-dynamo.js';
import { stuckBackendShutdown } from './stuck-backend-shutdown.js';

export interface ScenarioEntry {
  name: string;
  run: Scenario;
  full: number;
  small: number;
}

export const SCENARIOS: ScenarioEntry[] = [
  { name: 'kill-workers', run: killWorkers, full: 2000, small: 300 },
  { name: 'redis-restart', run: redisRestart, full: 2000, small: 300 },
  { name: 'cluster-failover', run: clusterFailover, full: 2000, small: 400 },
  { name: 'sentinel-failover', run: sentinelFailover, full: 2000, small: 400 },
  { name: 'dynamo-faults', run: dynamoFaults, full: 2000, small: 300 },
  { name: 'capacity', run: capacityScenario, full: 3000, small: 400 },
  { name: 'slow-dynamo', run: slowDynamo, full: 600, small: 100 },
  { name: 'poison', run: poison, full: 2000, small: 300 },
  { name: 'sigterm', run: sigterm, full: 1000, small: 300 },
  { name: 'producer-kill', run: producerKill, full: 6000, small: 2000 },
  { name: 'bad-input', run: (n) => badInput(n, { allEnvCases: n >= 500 }), full: 500, small: 100 },
  { name: 'mixed', run: mixed, full: 2000, small: 400 },
  { name: 'operator-races', run: operatorRaces, full: 2000, small: 300 },
  { name: 'live-check', run: liveCheck, full: 2000, small: 300 },
  { name: 'pause-past-lock', run: pausePastLock, full: 1000, small: 200 },
  { name: 'redis-loss', run: redisLoss, full: 5000, small: 300 },
  { name: 'stuck-backend-shutdown', run: stuckBackendShutdown, full: 1000, small: 300 },
  { name: 'soak', run: soak, full: 20_000, small: 1000 },
];
