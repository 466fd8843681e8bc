// What every scenario returns: the checker's figures, the faults it injected, and its own
// expectations, so the runner, the tests and the README table all read one shape.
import { type CheckReport, checkPassed } from '../shared/operator/check.js';
import type { ChaosStack } from './stack.js';

export interface Expectation {
  name: string;
  passed: boolean;
  detail?: string;
}

/** The checker's counts a scenario reports as its own (shared/operator/check.ts says what each means). */
type CheckCounts = Pick<
  CheckReport,
  | 'enqueued'
  | 'completed'
  | 'deadLettered'
  | 'purged'
  | 'pending'
  | 'lost'
  | 'duplicated'
  | 'projectionMismatches'
  | 'deadLettersWithoutReason'
>;

export interface ScenarioResult extends CheckCounts {
  scenario: string;
  /** The size asked for (jobs, or cases for bad-input). */
  size: number;
  /** What was injected and what the workers went through, as counts. */
  faults: Record<string, number | string>;
  /** One short line for the table. */
  faultSummary: string;
  expectations: Expectation[];
  passed: boolean;
  durationMs: number;
  examples?: CheckReport['examples'];
  workerRssMb?: number[];
  redisUsedMemoryMb?: number[];
  [extra: string]: unknown;
}

export type Scenario = (size: number) => Promise<ScenarioResult>;

export function expect(name: string, passed: boolean, detail?: string): Expectation {
  return detail === undefined ? { name, passed } : { name, passed, detail };
}

/** Builds the result; a scenario passes when the checker passes, nothing is pending, and every expectation holds. */
export function result(input: {
  scenario: string;
  size: number;
  report: CheckReport;
  faults: Record<string, number | string>;
  faultSummary: string;
  expectations: Expectation[];
  startedAt: number;
  extra?: Record<string, unknown>;
}): ScenarioResult {
  const { report } = input;
  const expectations = [
    expect(
      'checker: nothing lost, nothing applied twice, one outcome each, projections match, DLQ entries have reasons',
      checkPassed(report),
      `lost ${report.lost}, duplicated ${report.duplicated}, mismatches ${report.projectionMismatches}, ` +
        `DLQ entries without reason ${report.deadLettersWithoutReason}; DynamoDB: two outcomes ` +
        `${report.decisions.twoOutcomes}, dead-lettered with effect ${report.decisions.deadLetteredWithEffect}, ` +
        `completed without effect ${report.decisions.completedWithoutEffect}, accepted and in no queue ` +
        `${report.decisions.undecidedNotInRedis}` +
        (checkPassed(report)
          ? ''
          : `; e.g. ${JSON.stringify({ ...report.examples, records: report.decisions.examples })}`),
    ),
    expect('every job finished (none pending)', report.pending === 0, `pending ${report.pending}`),
    // Issue 19's two verdicts, as rows of their own in every scenario's table (the checker's row holds them too).
    expect('no job had two outcomes', report.decisions.twoOutcomes === 0, `${report.decisions.twoOutcomes}`),
    expect(
      'no dead-lettered job has its effect',
      report.decisions.deadLetteredWithEffect === 0,
      `${report.decisions.deadLetteredWithEffect}`,
    ),
    ...input.expectations,
  ];
  return {
    scenario: input.scenario,
    size: input.size,
    enqueued: report.enqueued,
    completed: report.completed,
    deadLettered: report.deadLettered,
    purged: report.purged,
    pending: report.pending,
    lost: report.lost,
    duplicated: report.duplicated,
    projectionMismatches: report.projectionMismatches,
    deadLettersWithoutReason: report.deadLettersWithoutReason,
    faults: input.faults,
    faultSummary: input.faultSummary,
    expectations,
    passed: expectations.every((e) => e.passed),
    durationMs: Math.round(performance.now() - input.startedAt),
    examples: report.examples,
    ...input.extra,
  };
}

/** Runs a scenario body on its own stack and always stops the stack, also when the body throws. */
export async function withStack<T>(
  start: () => Promise<ChaosStack>,
  body: (stack: ChaosStack) => Promise<T>,
): Promise<T> {
  const stack = await start();
  try {
    return await body(stack);
  } finally {
    await stack.stop();
  }
}
