// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size): workers
// and djq redrives paused past 1 s job locks and 1 s transition locks.

import { SCENARIOS } from '../../chaos/scenarios/index.js';
import { pausePastLock } from '../../chaos/scenarios/pause-past-lock.js';
import { chaosScenarioTest } from './scenario-test.js';

const small = SCENARIOS.find((s) => s.name === 'pause-past-lock')?.small ?? 200;

chaosScenarioTest(
  'pause-past-lock',
  'workers and djq redrives SIGSTOPped past 1 s job and transition locks: lost 0, duplicated 0, two outcomes 0, dead-lettered with effect 0',
  { run: () => pausePastLock(small) },
);
