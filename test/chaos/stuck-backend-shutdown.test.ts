// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { stuckBackendShutdown } from '../../chaos/scenarios/stuck-backend-shutdown.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

// Longer than the others: it runs two stacks in turn (or the CLI again and again) on 2 shared cores.

describe('chaos: stuck-backend-shutdown', () => {
  it('DynamoDB hangs, stdout unread, only npm signalled or its parent SIGKILLed: every process gone within SHUTDOWN_TIMEOUT_MS + 5 s', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await stuckBackendShutdown(300);

    expectScenarioPassed(result);
  });
});
