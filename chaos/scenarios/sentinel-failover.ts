// Scenario: the Redis primary killed (-9) mid-run under Sentinel. A primary, its replica and 3
// redis-sentinel processes (quorum 2, down-after 1 s); every process reaches Redis through
// REDIS_SENTINELS. The sentinels promote the replica and the producer and workers follow it on
// their own: nothing lost or applied twice, 0 process restarts, and the time from the kill until
// jobs finish again is reported.
import { setTimeout as sleep } from 'node:timers/promises';
import { diedServices, pollUntil, seconds } from '../failover.js';
import { isRunning } from '../processes.js';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { runWorkload } from '../workload.js';

const WORKERS = 3;

export async function sentinelFailover(
  jobs: number,
  options: { downAfterMs?: number; portRange?: [number, number] } = {},
): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const downAfterMs = options.downAfterMs ?? 1000;
  let killedPort: number | undefined;
  let promotedPort: number | undefined;
  let failoverMs: number | undefined;
  let resumeMs: number | undefined;
  let producerRunningAfterFailover = false;
  return runWorkload(
    {
      scenario: 'sentinel-failover',
      jobs,
      sentinel: { downAfterMs, ...(options.portRange ? { portRange: options.portRange } : {}) },
      env: {
        // Locks renewed through the failover; short enough that a job caught on the dead primary returns soon.
        LOCK_DURATION_MS: 5000,
        STALLED_INTERVAL_MS: 2000,
        FAULT_LATENCY_MS: 20,
        WORKER_CONCURRENCY: 8,
      },
      workers: WORKERS,
      seconds: Math.max(15, jobs / 40),
      during: async (stack, producer) => {
        const group = stack.sentinel;
        if (!group) throw new Error('sentinel-failover needs a sentinel stack');
        const deadline = Date.now() + 120_000;
        while ((await stack.finished()) < jobs * 0.3 && Date.now() < deadline) await sleep(200);
        const finishedBefore = await stack.finished();
        killedPort = await group.masterPort();
        const killedAt = Date.now();
        await group.primary.stop('SIGKILL');
        const giveUpAt = killedAt + downAfterMs * 3 + 60_000;
        await pollUntil(async () => {
          promotedPort = await group.masterPort();
          return promotedPort !== undefined && promotedPort !== killedPort;
        }, giveUpAt);
        failoverMs = Date.now() - killedAt;
        producerRunningAfterFailover = isRunning(producer.process);
        const resumed = () => stack.finished().catch(() => finishedBefore);
        if (await pollUntil(async () => (await resumed()) > finishedBefore, giveUpAt)) resumeMs = Date.now() - killedAt;
      },
    },
    ({ report, drained, producerExitCode, stack }) => {
      // No supervisor here: a process that exited (other than the producer's exit 0 at its
      // MAX_OPERATIONS) is one a supervisor would have restarted.
      const restarted = diedServices(stack.services);
      const promoted = promotedPort !== undefined && promotedPort !== killedPort;
      return result({
        scenario: 'sentinel-failover',
        size: jobs,
        report,
        faults: {
          primariesKilled: killedPort === undefined ? 0 : 1,
          downAfterMs,
          failoverMs: failoverMs ?? -1,
          resumeMs: resumeMs ?? -1,
          processRestarts: restarted.length,
          stalledJobs: stack.tally.stalled,
        },
        faultSummary: `primary kill -9 (down-after ${downAfterMs / 1000} s), replica promoted in ${seconds(failoverMs)} s, jobs finishing again in ${seconds(resumeMs)} s, ${restarted.length} restarts`,
        expectations: [
          expect('run drained', drained),
          expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('the primary was killed mid-run', killedPort !== undefined),
          expect('the sentinels promoted the replica', promoted, `master ${killedPort} -> ${promotedPort}`),
          expect('jobs finished again after the failover', resumeMs !== undefined, `${seconds(resumeMs)} s`),
          expect('the producer was still producing when the failover ended', producerRunningAfterFailover),
          expect(
            'no process restarted or died (0 restarts)',
            restarted.length === 0 && stack.workers.length === WORKERS,
            restarted.map((s) => `${s.name} exited ${s.process.exitCode ?? s.process.signalCode}`).join(', '),
          ),
          expect('every job enqueued', report.enqueued === jobs, `${report.enqueued} of ${jobs}`),
        ],
        startedAt,
      });
    },
  );
}
