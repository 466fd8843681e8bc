// The scenario verdict itself: a lost job, a duplicate or a missed expectation fails the scenario.
import { describe, expect, it } from 'vitest';
import { expect as expectation, result } from '../../chaos/scenario.js';
import type { CheckReport } from '../../shared/operator/check.js';
import { emptyDecisionReport } from '../../shared/operator/check-decisions.js';

const clean: CheckReport = {
  since: 'start',
  enqueued: 10,
  completed: 9,
  deadLettered: 1,
  pending: 0,
  purged: 0,
  projectionPending: 0,
  lost: 0,
  duplicated: 0,
  projectionMismatches: 0,
  deadLettersWithoutReason: 0,
  decisions: { ...emptyDecisionReport(), records: 10 },
  epochs: ['ok'],
  aggregates: 5,
  events: 9,
  faults: {},
  examples: { lost: [], duplicated: [], mismatched: [] },
};

const verdict = (report: CheckReport, passed = true) =>
  result({
    scenario: 't',
    size: 10,
    report,
    faults: {},
    faultSummary: '',
    expectations: [expectation('own expectation', passed)],
    startedAt: performance.now(),
  }).passed;

describe('scenario verdict', () => {
  it('passes a clean report', () => {
    expect(verdict(clean)).toBe(true);
  });

  it.each([
    ['a lost job', { lost: 1 }],
    ['a duplicated job', { duplicated: 1 }],
    ['a projection mismatch', { projectionMismatches: 1 }],
    ['a DLQ entry without reason', { deadLettersWithoutReason: 1 }],
    ['a pending job', { pending: 1 }],
  ])('fails on %s', (_, change) => {
    expect(verdict({ ...clean, ...change })).toBe(false);
  });

  it("fails when the scenario's own expectation fails", () => {
    expect(verdict(clean, false)).toBe(false);
  });
});
