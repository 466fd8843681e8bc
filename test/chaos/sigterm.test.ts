// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'sigterm',
  'SIGTERM to every worker mid-run: each drains and exits 0, a new worker finishes the queue',
);
