// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'operator-races',
  'redrive and purge storms by two consoles and djq, racing on the same ids while jobs fail: every job ends in exactly one state',
);
