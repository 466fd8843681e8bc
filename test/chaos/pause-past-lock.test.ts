// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).

import { SCENARIOS } from '../../chaos/scenarios/index.js';
import { pausePastLock } from '../../chaos/scenarios/pause-past-lock.js';
import { chaosScenarioTest } from './scenario-test.js';

const small = SCENARIOS.find((s) => s.name === 'pause-past-lock')?.small ?? 200;

// Workers paused past 1 s job locks; the djq redrives at the 30 s default transition lock, which
// their pauses do not outlast: past it, a redrive paused between its fence and BullMQ's own add or
// remove still loses work about one small run in three (docs/outcomes.md, known limits), so that
// case runs in `npm run chaos`, not here, until it is fixed.
chaosScenarioTest(
  'pause-past-lock',
  'workers SIGSTOPped past 1 s locks, djq redrives paused mid-run: lost 0, duplicated 0, two outcomes 0, dead-lettered with effect 0',
  { run: () => pausePastLock(small, { transitionLockMs: 30_000 }) },
);
