// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { capacityScenario } from '../../chaos/scenarios/capacity.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: capacity', () => {
  it('a table budget of 100 units/s and twice the demand: every job completes, none dead-lettered by throttling, the budget goes to completed work', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await capacityScenario(400);

    expectScenarioPassed(result);
  });
});
