// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { chaosScenarioTest } from './scenario-test.js';

chaosScenarioTest(
  'pause-past-lock',
  'workers and djq redrives SIGSTOPped past 1 s locks: lost 0, duplicated 0, two outcomes 0, dead-lettered with effect 0',
);
