// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'redis-loss',
  'FLUSHALL, a failover that dropped the last writes and a new empty Redis, each then djq recover: lost 0, duplicated 0, two outcomes 0, dead-lettered with effect 0',
);
