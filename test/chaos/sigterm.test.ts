// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { sigterm } from '../../chaos/scenarios/sigterm.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: sigterm', () => {
  it('SIGTERM to every worker mid-run: each drains and exits 0, a new worker finishes the queue', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await sigterm(300);

    expectScenarioPassed(result);
  });
});
