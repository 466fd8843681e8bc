// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { badInput } from '../../chaos/scenarios/bad-input.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: bad-input', () => {
  it('malformed env variables exit 2 before connecting; bad jobs are dead-lettered and the worker keeps going', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await badInput(100);

    expectScenarioPassed(result);
  });
});
