// Scenario: a Redis Cluster master killed (-9) mid-run. The queue is split into 3 shards (one hash
// tag each, on 3 distinct masters); the master serving shard 0 dies while jobs flow, its replica is
// promoted after Redis's default cluster-node-timeout (15 s), and the producer and workers ride it
// without exiting (shared/runtime/redis.ts): the run completes with nothing lost or applied twice,
// 0 process restarts, and the time from the kill to shard 0's next finished job is reported.
import { setTimeout as sleep } from 'node:timers/promises';
import { keySlot } from '../../shared/lifecycle/key-slot.js';
import { diedServices, pollUntil, seconds } from '../failover.js';
import { isRunning } from '../processes.js';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { runWorkload } from '../workload.js';

const WORKERS = 3;

/** Redis's own default cluster-node-timeout: what a deployment that tuned nothing has. */
const REDIS_DEFAULT_NODE_TIMEOUT_MS = 15_000;

export async function clusterFailover(
  jobs: number,
  options: { nodeTimeoutMs?: number; portRange?: [number, number] } = {},
): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const nodeTimeoutMs = options.nodeTimeoutMs ?? REDIS_DEFAULT_NODE_TIMEOUT_MS;
  let killedPort: number | undefined;
  let promotedPort: number | undefined;
  let failoverMs: number | undefined;
  let resumeMs: number | undefined;
  let producerRunningAfterFailover = false;
  return runWorkload(
    {
      scenario: 'cluster-failover',
      jobs,
      cluster: true,
      clusterOptions: { nodeTimeoutMs, ...(options.portRange ? { portRange: options.portRange } : {}) },
      env: {
        QUEUE_SHARDS: 3,
        // Locks renewed through the failover; short enough that a job caught on the dead master returns soon.
        LOCK_DURATION_MS: 5000,
        STALLED_INTERVAL_MS: 2000,
        FAULT_LATENCY_MS: 20,
        WORKER_CONCURRENCY: 8,
      },
      workers: WORKERS,
      // The producer keeps producing past the failover (about the node timeout after the kill at ~30%).
      seconds: Math.max(15, jobs / 40, (nodeTimeoutMs / 1000) * 2.5),
      during: async (stack, producer) => {
        const cluster = stack.cluster;
        if (!cluster) throw new Error('cluster-failover needs a cluster stack');
        const deadline = Date.now() + 120_000;
        while ((await stack.finished()) < jobs * 0.3 && Date.now() < deadline) await sleep(200);
        // The master of shard 0's slot: its producer writes, workers' fetches and locks all go there.
        const slot = keySlot(stack.system.keys.ledgerOutcomes);
        killedPort = await cluster.masterOf(slot);
        const victim = cluster.servers.find((s) => s.port === killedPort);
        if (!victim) throw new Error(`no master found for slot ${slot}`);
        const finishedBefore = await stack.finished(0);
        const killedAt = Date.now();
        victim.process.kill('SIGKILL');
        const giveUpAt = killedAt + nodeTimeoutMs * 3 + 30_000;
        await pollUntil(async () => {
          promotedPort = await cluster.masterOf(slot).catch(() => undefined);
          return promotedPort !== undefined && promotedPort !== killedPort;
        }, giveUpAt);
        failoverMs = Date.now() - killedAt;
        producerRunningAfterFailover = isRunning(producer.process);
        // Resumed: shard 0 (the killed master's) records a finished job again.
        const finished = () => stack.finished(0).catch(() => finishedBefore);
        if (await pollUntil(async () => (await finished()) > finishedBefore, giveUpAt))
          resumeMs = Date.now() - killedAt;
      },
    },
    ({ report, drained, producerExitCode, stack }) => {
      // No supervisor here: a process that exited (other than the producer's exit 0 at its
      // MAX_OPERATIONS) is one a supervisor would have restarted.
      const restarted = diedServices(stack.services);
      const promoted = promotedPort !== undefined && promotedPort !== killedPort;
      return result({
        scenario: 'cluster-failover',
        size: jobs,
        report,
        faults: {
          mastersKilled: killedPort === undefined ? 0 : 1,
          nodeTimeoutMs,
          failoverMs: failoverMs ?? -1,
          resumeMs: resumeMs ?? -1,
          processRestarts: restarted.length,
          stalledJobs: stack.tally.stalled,
        },
        faultSummary: `cluster master kill -9 (node timeout ${nodeTimeoutMs / 1000} s), replica promoted in ${seconds(failoverMs)} s, shard resumed in ${seconds(resumeMs)} s, ${restarted.length} restarts`,
        expectations: [
          expect('run drained', drained),
          expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('a master was killed mid-run', killedPort !== undefined),
          expect('its replica was promoted', promoted, `slot owner ${killedPort} -> ${promotedPort}`),
          expect('the shard resumed after the failover', resumeMs !== undefined, `${seconds(resumeMs)} s`),
          expect(
            'the producer was still producing when the failover ended',
            producerRunningAfterFailover,
            'the failover must happen under the producer, or its riding is not tested',
          ),
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
