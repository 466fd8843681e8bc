// Chaos scenario at small size, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, it } from 'vitest';
import { dynamoFaults } from '../../chaos/scenarios/dynamo-faults.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed } from './expect-scenario.js';

describe('chaos: dynamo-faults', () => {
  it('DynamoDB throttling and 5xx at 30%: jobs succeed by retry, exhausted ones are dead-lettered with every attempt', {
    timeout: CHAOS_TIMEOUT_MS,
  }, async () => {
    const result = await dynamoFaults(300);

    expectScenarioPassed(result);
  });
});
