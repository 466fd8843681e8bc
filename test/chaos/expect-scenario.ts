// What every chaos test asserts: the checker's three bad numbers are 0 and the scenario's own
// expectations hold (listed by name when they do not, so a failure says what broke).
import { afterAll, expect } from 'vitest';
import { killTracked } from '../../chaos/processes.js';
import type { ScenarioResult } from '../../chaos/scenario.js';

// A scenario whose test timed out is still running when its file ends, and nothing else would stop
// its processes (redis-server, dynalite, the services outlive the test worker): every chaos test
// file imports this module, so each ends by killing what its scenarios left.
afterAll(() => {
  killTracked();
});

export interface ScenarioVerdictOptions {
  /**
   * The scenario wipes Redis, ledger included, and counts its jobs from DynamoDB's records in its
   * own expectations: the ledger holds only what came after the last loss, nothing when the
   * producer finished before it.
   */
  ledgerMayBeEmpty?: boolean;
}

export function expectScenarioPassed(result: ScenarioResult, options: ScenarioVerdictOptions = {}): void {
  const context = JSON.stringify({ ...result, envCases: undefined }, null, 2);
  expect(result.lost, context).toBe(0);
  expect(result.duplicated, context).toBe(0);
  expect(result.projectionMismatches, context).toBe(0);
  expect(result.pending, context).toBe(0);
  if (!options.ledgerMayBeEmpty) expect(result.enqueued, context).toBeGreaterThan(0);
  // Every job ended in one place: completed, in the DLQ, or purged from it by an operator.
  expect(result.completed + result.deadLettered + result.purged, context).toBe(result.enqueued);
  expect(result.expectations.filter((e) => !e.passed)).toEqual([]);
  expect(result.passed).toBe(true);
}

/** Chaos scenarios start processes of their own; on 2 shared cores that takes a while. */
export const CHAOS_TIMEOUT_MS = 180_000;
