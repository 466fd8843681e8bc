// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { liveCheck } from '../../chaos/scenarios/live-check.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

// Longer than the others: it runs two stacks in turn (or the CLI again and again) on 2 shared cores.

describe('chaos: live-check', () => {
  it('djq check every second during a run with retries and kill -9 never reports a job lost; the final check passes', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await liveCheck(300);

    expectScenarioPassed(result);
  });
});
