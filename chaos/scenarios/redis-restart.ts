// Scenario 2: Redis stopped and started again with its AOF mid-run. Producer and workers reconnect
// by themselves and the run completes; every worker that consumed before the restart consumes after
// it (the BullMQ failure class of workers that reconnect but never fetch again, #2466, #4479).
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { runWorkload } from '../workload.js';

const DOWN_MS = 3000;

export async function redisRestart(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  let restartedAt = 0;
  let before = new Set<string>();
  let reconnected = new Set<string>();
  return runWorkload(
    {
      scenario: 'redis-restart',
      jobs,
      env: {
        FAULT_LATENCY_MS: 20,
        // Every completed job stays in Redis, so the checker can see which worker ran it after the restart.
        JOB_KEEP_COMPLETED: 1_000_000,
      },
      workers: 4,
      seconds: Math.max(15, jobs / 50),
      during: async (stack) => {
        const deadline = Date.now() + 120_000;
        while ((await stack.finished()) < jobs * 0.3 && Date.now() < deadline) await sleep(200);
        before = await stack.consumingWorkerIds();
        await stack.restartRedis(DOWN_MS);
        restartedAt = Date.now();
        // Workers reconnect with a capped backoff (2 s): give them a while to register again.
        const wait = Date.now() + 30_000;
        do {
          reconnected = await stack.consumingWorkerIds();
          if ([...before].every((id) => reconnected.has(id))) break;
          await sleep(250);
        } while (Date.now() < wait);
      },
    },
    async ({ report, drained, producerExitCode, stack }) => {
      const completed = await stack.queues.operations.getCompleted(0, -1);
      const afterRestart = new Map<string, number>();
      for (const job of completed) {
        if ((job.finishedOn ?? 0) <= restartedAt || !job.processedBy) continue;
        afterRestart.set(job.processedBy, (afterRestart.get(job.processedBy) ?? 0) + 1);
      }
      const idle = [...before].filter((id) => !afterRestart.has(id));
      const replaced = stack.workers.filter((w) => w.process.exitCode !== null || w.process.signalCode !== null);
      return result({
        scenario: 'redis-restart',
        size: jobs,
        report,
        faults: {
          redisRestarts: 1,
          redisDownMs: DOWN_MS,
          workersBefore: before.size,
          workersReconnected: [...before].filter((id) => reconnected.has(id)).length,
          jobsAfterRestart: [...afterRestart.values()].reduce((a, b) => a + b, 0),
        },
        faultSummary: `Redis down ${DOWN_MS / 1000} s, restarted from its AOF`,
        expectations: [
          expect('run drained', drained),
          expect('producer reconnected and exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('every job enqueued', report.enqueued === jobs, `${report.enqueued} of ${jobs}`),
          expect('no worker process died', replaced.length === 0 && stack.workers.length === 4),
          expect(
            'every worker consumed again after the restart',
            before.size === 4 && idle.length === 0,
            `${before.size} before; jobs after: ${JSON.stringify(Object.fromEntries(afterRestart))}`,
          ),
        ],
        startedAt,
      });
    },
  );
}
