// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { killWorkers } from '../../chaos/scenarios/kill-workers.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: kill-workers', () => {
  it('kill -9 of one of 4 workers every few seconds: nothing lost, nothing applied twice', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await killWorkers(300);

    expectScenarioPassed(result);
  });
});
