// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { operatorRaces } from '../../chaos/scenarios/operator-races.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: operator-races', () => {
  it('redrive and purge storms by two consoles and djq, racing on the same ids while jobs fail: every job ends in exactly one state', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await operatorRaces(300);

    expectScenarioPassed(result);
  });
});
