// Scenario 1: kill -9 of one of 4 workers every few seconds, replaced by a new one. Short locks
// bring the dead worker's jobs back fast; the others pick them up, nothing is lost or doubled.
import { expect, result, type ScenarioResult } from '../scenario.js';
import { runWorkload } from '../workload.js';

export const KILL_WORKERS_ENV = {
  LOCK_DURATION_MS: 2000,
  STALLED_INTERVAL_MS: 1000,
  // A little latency keeps jobs in flight, so a kill lands on real work.
  FAULT_LATENCY_MS: 50,
  WORKER_CONCURRENCY: 8,
};

export async function killWorkers(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  return runWorkload(
    {
      scenario: 'kill-workers',
      jobs,
      env: KILL_WORKERS_ENV,
      workers: 4,
      seconds: Math.max(10, jobs / 50),
      killEveryMs: 2500,
    },
    ({ report, drained, producerExitCode, kills, stack }) =>
      result({
        scenario: 'kill-workers',
        size: jobs,
        report,
        faults: { workersKilled: kills, stalledJobs: stack.tally.stalled },
        faultSummary: `kill -9 ×${kills}, ${stack.tally.stalled} stalled jobs`,
        expectations: [
          expect('run drained', drained),
          expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('workers were killed mid-run', kills >= 2, `${kills} kills`),
          expect('every job enqueued', report.enqueued === jobs, `${report.enqueued} of ${jobs}`),
        ],
        startedAt,
      }),
  );
}
