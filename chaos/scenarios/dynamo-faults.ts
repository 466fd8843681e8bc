// Scenario 3: DynamoDB throttling and 5xx injected on 30% of calls, with few SDK attempts, so
// whole job attempts fail: jobs succeed by retry with backoff, and the ones that exhaust their
// attempts are dead-lettered with every attempt's error.
import { expect, type ScenarioResult } from '../scenario.js';
import { sum } from '../stack.js';
import { workloadScenario } from '../workload.js';

export const DYNAMO_FAULTS_ENV = {
  // The retry path as it is without flow control: throttles use attempts and can exhaust them. The
  // capacity scenario covers throttling with flow control on.
  FLOW_CONTROL: false,
  // Nor the SDK's adaptive retries, whose client-side limiter would slow each worker as well.
  DYNAMODB_RETRY_MODE: 'standard',
  FAULT_THROTTLE_RATE: 0.15,
  FAULT_ERROR_RATE: 0.15,
  DYNAMODB_MAX_ATTEMPTS: 1,
  JOB_ATTEMPTS: 4,
  JOB_BACKOFF_MS: 50,
};

const INJECTED = new Set(['ThrottlingException', 'InternalServerError']);

export async function dynamoFaults(jobs: number): Promise<ScenarioResult> {
  return workloadScenario(
    'dynamo-faults',
    jobs,
    { env: DYNAMO_FAULTS_ENV, workers: 4, seconds: Math.max(5, jobs / 100) },
    ({ report, deadLetters, stack }) => {
      const retries = stack.tally.retries;
      const injectedRetries = [...INJECTED].reduce((n, c) => n + (retries[c] ?? 0), 0);
      // Dead-lettered because attempts ran out (the last error was retryable); others, e.g. an
      // update of a user deleted meanwhile, end at the first non-retryable error.
      const exhausted = deadLetters.filter((d) => d.attempts.at(-1)?.retryable);
      const badEntries = deadLetters.filter(
        (d) =>
          d.attempts.length !== d.attemptsMade ||
          (d.attempts.at(-1)?.retryable && d.attemptsMade !== DYNAMO_FAULTS_ENV.JOB_ATTEMPTS) ||
          d.attempts.some((a) => !a.message || !a.errorClass),
      );
      const exhaustedByFaults = exhausted.filter((d) => d.attempts.some((a) => INJECTED.has(a.errorClass))).length;
      return {
        faults: {
          throttleRate: DYNAMO_FAULTS_ENV.FAULT_THROTTLE_RATE,
          errorRate: DYNAMO_FAULTS_ENV.FAULT_ERROR_RATE,
          failedAttemptsRetried: sum(retries),
          failedAttemptsByInjectedFaults: injectedRetries,
          deadLetteredAfterAllAttempts: exhausted.length,
        },
        faultSummary: `throttle 15% + 5xx 15%: ${injectedRetries} attempts retried, ${exhausted.length} exhausted`,
        expectations: [
          expect('jobs succeeded by retry', injectedRetries > 0 && report.completed > 0, `${injectedRetries} retries`),
          expect(
            'exhausted jobs dead-lettered by the injected faults',
            exhaustedByFaults > 0,
            `${exhaustedByFaults} dead-lettered after ${DYNAMO_FAULTS_ENV.JOB_ATTEMPTS} attempts`,
          ),
          expect(
            "each DLQ entry holds every attempt's error (all JOB_ATTEMPTS when they ran out)",
            badEntries.length === 0,
            badEntries.length ? `e.g. ${badEntries[0]?.jobId}: ${badEntries[0]?.attempts.length} attempts` : undefined,
          ),
        ],
      };
    },
  );
}
