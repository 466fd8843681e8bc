// Scenario 4: a slow DynamoDB: every call takes longer (1.5 s) than the job lock lasts (1 s) if it
// were not renewed. BullMQ renews locks while the process runs, so to lose them for real a worker is
// also frozen (SIGSTOP) for 3 locks' time now and then, as a long GC pause or a stalled VM would:
// its jobs run again elsewhere while it still holds them, yet each effect lands once.
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, type ScenarioResult } from '../scenario.js';
import { workloadScenario } from '../workload.js';

export const SLOW_DYNAMO_ENV = {
  LOCK_DURATION_MS: 1000,
  STALLED_INTERVAL_MS: 1000,
  FAULT_LATENCY_MS: 1500,
  WORKER_CONCURRENCY: 50,
  MAX_STALLED_COUNT: 5,
};

const FREEZE_MS = 3000;

export async function slowDynamo(jobs: number): Promise<ScenarioResult> {
  let freezes = 0;
  return workloadScenario(
    'slow-dynamo',
    jobs,
    {
      env: SLOW_DYNAMO_ENV,
      workers: 4,
      seconds: Math.max(5, jobs / 25),
      periodic: {
        everyMs: 6000,
        run: async (stack) => {
          const consuming = await stack.consumingWorkerIds();
          const victim = stack.liveWorkers().find((w) => consuming.has(w.name) && w.name !== `w${(freezes % 4) + 1}`);
          if (!victim) return;
          freezes++;
          victim.process.kill('SIGSTOP');
          await sleep(FREEZE_MS);
          victim.process.kill('SIGCONT');
        },
      },
    },
    ({ stack }) => ({
      faults: {
        latencyMs: SLOW_DYNAMO_ENV.FAULT_LATENCY_MS,
        lockDurationMs: SLOW_DYNAMO_ENV.LOCK_DURATION_MS,
        workerFreezes: freezes,
        freezeMs: FREEZE_MS,
        stalledJobs: stack.tally.stalled,
      },
      faultSummary: `+${SLOW_DYNAMO_ENV.FAULT_LATENCY_MS} ms/call, lock ${SLOW_DYNAMO_ENV.LOCK_DURATION_MS} ms, ${freezes} freezes: ${stack.tally.stalled} locks lost`,
      expectations: [
        expect('locks were lost (jobs ran again elsewhere)', stack.tally.stalled > 0, `${stack.tally.stalled} stalled`),
      ],
    }),
  );
}
