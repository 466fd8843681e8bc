// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { SCENARIOS } from '../../chaos/scenarios/index.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

const scenario = SCENARIOS.find((s) => s.name === 'pause-past-lock');

describe('chaos: pause-past-lock', () => {
  it('ends with every job decided once: lost 0, duplicated 0, two outcomes 0, dead-lettered with effect 0', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    if (!scenario) throw new Error('no scenario pause-past-lock');
    expectScenarioPassed(await scenario.run(scenario.small));
  });
});
