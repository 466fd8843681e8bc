// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { poison } from '../../chaos/scenarios/poison.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: poison', () => {
  it('poison jobs are dead-lettered after exactly one attempt', { timeout: CHAOS_TIMEOUT_MS }, async () => {
    const result = await poison(300);

    expectScenarioPassed(result);
  });
});
