// Scenario: processes paused past their locks. Workers are SIGSTOPped at random moments for longer
// than LOCK_DURATION_MS (1 s) and the transition lock's TTL, then resumed, while DynamoDB is slow
// and fails a share of calls (jobs fail for good and are dead-lettered) and an operator redrives the
// DLQ in storms. A paused worker wakes up mid-job, mid-move or mid-flush with its leases gone: what
// it does then must not give any job a second outcome, nor a dead-lettered job its effect.
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { every } from '../stack.js';
import { runWorkload } from '../workload.js';

export const PAUSE_PAST_LOCK_ENV = {
  LOCK_DURATION_MS: 1000,
  STALLED_INTERVAL_MS: 1000,
  MAX_STALLED_COUNT: 1,
  JOB_ATTEMPTS: 2,
  JOB_BACKOFF_MS: 50,
  FAULT_LATENCY_MS: 40,
  FAULT_ERROR_RATE: 0.15,
  // Poison jobs are dead-lettered at once: the redrive storms always have entries to race on (the
  // SDK's retries absorb most injected faults, so few jobs fail for good otherwise).
  INVALID_JOB_RATE: 0.05,
  WORKER_CONCURRENCY: 8,
  DLQ_SWEEP_INTERVAL_MS: 500,
  FLOW_CONTROL: false,
};

/** How long a paused worker stays stopped: always past the 1 s lock. */
const PAUSE_MS = { min: 1500, max: 3500 };

export async function pausePastLock(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  let pauses = 0;
  let redriven = 0;
  return runWorkload(
    {
      scenario: 'pause-past-lock',
      jobs,
      env: PAUSE_PAST_LOCK_ENV,
      workers: 4,
      seconds: Math.max(10, jobs / 40),
      timeoutMs: 240_000 + jobs * 60,
      during: async (stack, producer) => {
        const paused = new Set<string>();
        const pauseOne = async () => {
          const live = stack.liveWorkers().filter((w) => !paused.has(w.name));
          const victim = live[Math.floor(Math.random() * live.length)];
          if (!victim?.process.pid) return;
          paused.add(victim.name);
          victim.process.kill('SIGSTOP');
          pauses++;
          await sleep(PAUSE_MS.min + Math.random() * (PAUSE_MS.max - PAUSE_MS.min));
          victim.process.kill('SIGCONT');
          paused.delete(victim.name);
        };
        // Two pausers: at times two of the four workers are stopped at once.
        const pausers = [every(300, pauseOne), every(500, pauseOne)];
        const storms = every(1500, async () => {
          redriven += (await stack.sharded.console.redrive({ all: true })).done.length;
        });
        await producer.exited;
        // Keep going a little past the last job, then let the fleet drain undisturbed.
        await sleep(3000);
        for (const pauser of pausers) await pauser.stop();
        await storms.stop();
        for (const worker of stack.liveWorkers()) worker.process.kill('SIGCONT');
      },
    },
    ({ report, drained, producerExitCode }) =>
      result({
        scenario: 'pause-past-lock',
        size: jobs,
        report,
        faults: { pauses, redriven },
        faultSummary: `SIGSTOP ×${pauses} (${PAUSE_MS.min / 1000}–${PAUSE_MS.max / 1000} s, 1 s locks), ${redriven} redrives, 15% faults, +40 ms`,
        expectations: [
          expect('run drained', drained),
          expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('workers were paused past their locks', pauses >= 3, `${pauses} pauses`),
          expect('dead-lettered jobs were redriven mid-run', redriven > 0, `${redriven} redrives`),
          expect('no job had two outcomes', report.decisions.twoOutcomes === 0, `${report.decisions.twoOutcomes}`),
          expect(
            'no dead-lettered job has its effect',
            report.decisions.deadLetteredWithEffect === 0,
            `${report.decisions.deadLetteredWithEffect}`,
          ),
        ],
        startedAt,
      }),
  );
}
