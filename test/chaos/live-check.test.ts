// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'live-check',
  'djq check every second during a run with retries and kill -9 never reports a job lost; the final check passes',
);
