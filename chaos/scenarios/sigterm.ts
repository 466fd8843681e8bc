// Scenario 6: SIGTERM to every worker while jobs are in flight: each lets its in-flight jobs finish
// and exits 0 within SHUTDOWN_TIMEOUT_MS, no job is left active, then a new worker finishes the queue.
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { ChaosStack } from '../stack.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;
/** Process exit after the drain (history flush, closing connections) gets this much on top. */
const EXIT_GRACE_MS = 10_000;

export async function sigterm(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const stack = await ChaosStack.start('sigterm', {
    // Jobs that take a while, so plenty are in flight when the signal comes.
    FAULT_LATENCY_MS: 100,
    WORKER_CONCURRENCY: 8,
    SHUTDOWN_TIMEOUT_MS,
    // The worker says at info level whether it drained ("worker stopped: in-flight jobs finished").
    LOG_LEVEL: 'info',
  });
  try {
    // Every job is in Redis before the workers start, so the queue cannot drain before the signal.
    const producer = stack.startProducer({ MAX_OPERATIONS: jobs, OPERATION_INTERVAL_MS: 1, OPERATIONS_PER_TICK: 500 });
    const producerExit = await producer.exited;
    const workers = Array.from({ length: 4 }, () => stack.startWorker());
    const deadline = Date.now() + 60_000;
    // Signal only once all four consume and hold jobs: a process still starting has none to drain.
    const ready = async () =>
      (await stack.consumingWorkerIds()).size === workers.length &&
      (await stack.queues.operations.getActiveCount()) >= 16;
    while (!(await ready()) && Date.now() < deadline) await sleep(100);
    // attemptsStarted, not attemptsMade: getActive() reads the list, then each job, so an attempt that
    // fails in between shows up here with attemptsMade already counting it. The attempt that was in
    // flight has finished once attemptsMade reaches attemptsStarted.
    const inFlight = (await stack.queues.operations.getActive()).map((j) => ({
      id: String(j.id),
      attemptsStarted: j.attemptsStarted,
    }));

    const signalledAt = performance.now();
    for (const w of workers) w.process.kill('SIGTERM');
    const exits = await Promise.all(
      workers.map(async (w) => {
        const { code } = await w.exited;
        return {
          name: w.name,
          code,
          ms: Math.round(performance.now() - signalledAt),
          drained: /"drained":true/.test(w.output()),
        };
      }),
    );
    const activeAfter = await stack.queues.operations.getActiveCount();
    const outcomes = await stack.outcomes();
    // Finished: completed or dead-lettered, or the attempt ended in a failure that will be retried.
    const abandoned: string[] = [];
    for (const { id, attemptsStarted } of inFlight) {
      if (outcomes.has(id)) continue;
      const job = await stack.queues.operations.getJob(id);
      if (!job || job.attemptsMade < attemptsStarted) abandoned.push(id);
    }
    const leftAfterShutdown = await stack.unfinished();

    stack.startWorker();
    const drained = await stack.waitDrained({ timeoutMs: 60_000 + jobs * 100 });
    const report = await stack.check();
    const slowest = Math.max(...exits.map((e) => e.ms));
    return result({
      scenario: 'sigterm',
      size: jobs,
      report,
      faults: {
        workersSignalled: workers.length,
        jobsInFlight: inFlight.length,
        slowestExitMs: slowest,
        leftForNewWorker: leftAfterShutdown,
      },
      faultSummary: `SIGTERM ×${workers.length} with ${inFlight.length} jobs in flight`,
      expectations: [
        expect('producer exited 0', producerExit.code === 0, `exit ${producerExit.code}`),
        expect('jobs were in flight at the signal', inFlight.length > 0, `${inFlight.length}`),
        expect(
          'every worker exited 0 after draining',
          exits.every((e) => e.code === 0 && e.drained),
          exits.map((e) => `${e.name}: exit ${e.code}${e.drained ? ', drained' : ''}`).join('; '),
        ),
        expect(
          'within SHUTDOWN_TIMEOUT_MS (plus exit grace)',
          slowest <= SHUTDOWN_TIMEOUT_MS + EXIT_GRACE_MS,
          `slowest ${slowest} ms`,
        ),
        expect('no job left active', activeAfter === 0, `${activeAfter} active`),
        expect('in-flight jobs finished before the exit', abandoned.length === 0, `${abandoned.length} abandoned`),
        expect('a new worker finished the queue', drained && report.enqueued === jobs, `${report.enqueued} of ${jobs}`),
      ],
      startedAt,
    });
  } finally {
    await stack.stop();
  }
}
