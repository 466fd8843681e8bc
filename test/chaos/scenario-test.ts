// One chaos scenario as a test at its --small size (chaos/scenarios/index.ts), the size
// `npm run chaos -- --small` runs, so CI keeps it true (`npm run chaos` runs the full size).
import { describe, expect, it } from 'vitest';
import type { ScenarioResult } from '../../chaos/scenario.js';
import { SCENARIOS } from '../../chaos/scenarios/index.js';
import { CHAOS_TIMEOUT_MS, expectScenarioPassed, type ScenarioVerdictOptions } from './expect-scenario.js';

export interface ScenarioTestOptions {
  /** Runs the scenario some other way than at its small size (its own ports, say). */
  run?: () => Promise<ScenarioResult>;
  /** What this test asserts beyond every scenario's verdict. */
  alsoExpect?: (result: ScenarioResult) => void;
  verdict?: ScenarioVerdictOptions;
}

/** `describe('chaos: <name>')` with one test, titled by what the scenario claims, that the scenario passes. */
export function chaosScenarioTest(name: string, claim: string, options: ScenarioTestOptions = {}): void {
  describe(`chaos: ${name}`, () => {
    it(claim, { timeout: CHAOS_TIMEOUT_MS }, async () => {
      const result = await (options.run ?? atSmallSize(name))();

      expectScenarioPassed(result, options.verdict);
      options.alsoExpect?.(result);
    });
  });
}

function atSmallSize(name: string): () => Promise<ScenarioResult> {
  const scenario = SCENARIOS.find((s) => s.name === name);
  if (!scenario) throw new Error(`no chaos scenario named ${name} in chaos/scenarios/index.ts`);
  return () => scenario.run(scenario.small);
}

/** A failover scenario's own claim: the fleet came back on the new primary without a process restart. */
export function expectFailoverWithoutRestart(result: ScenarioResult): void {
  expect(result.faults.processRestarts).toBe(0);
  expect(result.faults.resumeMs).toBeGreaterThan(0);
}
