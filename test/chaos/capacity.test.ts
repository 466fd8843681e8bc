// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'capacity',
  'a table budget of 100 units/s and twice the demand: every job completes, none dead-lettered by throttling, the budget goes to completed work',
);
