// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'bad-input',
  'malformed env variables exit 2 before connecting; bad jobs are dead-lettered and the worker keeps going',
);
