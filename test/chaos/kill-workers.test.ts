// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest('kill-workers', 'kill -9 of one of 4 workers every few seconds: nothing lost, nothing applied twice');
