// Scenario 1: kill -9 of one of 4 workers every few seconds, replaced by a new one. Short locks
// bring the dead worker's jobs back fast; the others pick them up, nothing is lost or doubled.
import { expect, type ScenarioResult } from '../scenario.js';
import { workloadScenario } from '../workload.js';

export const KILL_WORKERS_ENV = {
  LOCK_DURATION_MS: 2000,
  STALLED_INTERVAL_MS: 1000,
  // A little latency keeps jobs in flight, so a kill lands on real work.
  FAULT_LATENCY_MS: 50,
  WORKER_CONCURRENCY: 8,
};

export async function killWorkers(jobs: number): Promise<ScenarioResult> {
  return workloadScenario(
    'kill-workers',
    jobs,
    { env: KILL_WORKERS_ENV, workers: 4, seconds: Math.max(10, jobs / 50), killEveryMs: 2500 },
    ({ kills, stack }) => ({
      faults: { workersKilled: kills, stalledJobs: stack.tally.stalled },
      faultSummary: `kill -9 ×${kills}, ${stack.tally.stalled} stalled jobs`,
      expectations: [expect('workers were killed mid-run', kills >= 2, `${kills} kills`)],
    }),
  );
}
