// Scenario 4: a slow DynamoDB: every call takes longer (1.5 s) than the job lock lasts (1 s) if it
// were not renewed. A job whose lock is lost may run twice (at-least-once), but its effect lands once.
import { expect, result, type ScenarioResult } from '../scenario.js';
import { runWorkload } from '../workload.js';

export const SLOW_DYNAMO_ENV = {
  LOCK_DURATION_MS: 1000,
  STALLED_INTERVAL_MS: 1000,
  FAULT_LATENCY_MS: 1500,
  WORKER_CONCURRENCY: 50,
  MAX_STALLED_COUNT: 5,
};

export async function slowDynamo(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  return runWorkload(
    { scenario: 'slow-dynamo', jobs, env: SLOW_DYNAMO_ENV, workers: 4, seconds: Math.max(5, jobs / 25) },
    ({ report, drained, producerExitCode, stack }) =>
      result({
        scenario: 'slow-dynamo',
        size: jobs,
        report,
        faults: {
          latencyMs: SLOW_DYNAMO_ENV.FAULT_LATENCY_MS,
          lockDurationMs: SLOW_DYNAMO_ENV.LOCK_DURATION_MS,
          stalledJobs: stack.tally.stalled,
        },
        faultSummary: `+${SLOW_DYNAMO_ENV.FAULT_LATENCY_MS} ms per call, lock ${SLOW_DYNAMO_ENV.LOCK_DURATION_MS} ms: ${stack.tally.stalled} stalled`,
        expectations: [
          expect('run drained', drained),
          expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('every job enqueued', report.enqueued === jobs, `${report.enqueued} of ${jobs}`),
        ],
        startedAt,
      }),
  );
}
