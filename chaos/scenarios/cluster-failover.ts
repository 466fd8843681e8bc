// Scenario: a Redis Cluster master killed (-9) mid-run. The queue is split into 3 shards (one hash
// tag each); the master serving shard 0 dies while jobs flow, its replica is promoted after the
// cluster node timeout (1 s), and the producer and workers find the new master by themselves: the
// run completes with nothing lost or applied twice, and no process was restarted.
import { setTimeout as sleep } from 'node:timers/promises';
import { keySlot } from '../../shared/lifecycle/key-slot.js';
import { isRunning } from '../processes.js';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { runWorkload } from '../workload.js';

const WORKERS = 3;

export async function clusterFailover(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  let killedPort: number | undefined;
  let promotedPort: number | undefined;
  let failoverMs: number | undefined;
  return runWorkload(
    {
      scenario: 'cluster-failover',
      jobs,
      cluster: true,
      env: {
        QUEUE_SHARDS: 3,
        // Locks renewed through the failover; short enough that a job caught on the dead master returns soon.
        LOCK_DURATION_MS: 5000,
        STALLED_INTERVAL_MS: 2000,
        FAULT_LATENCY_MS: 20,
        WORKER_CONCURRENCY: 8,
      },
      workers: WORKERS,
      seconds: Math.max(15, jobs / 40),
      during: async (stack) => {
        const cluster = stack.cluster;
        if (!cluster) throw new Error('cluster-failover needs a cluster stack');
        const deadline = Date.now() + 120_000;
        while ((await stack.finished()) < jobs * 0.3 && Date.now() < deadline) await sleep(200);
        // The master of shard 0's slot: its producer writes, workers' fetches and locks all go there.
        const slot = keySlot(stack.system.keys.ledgerOutcomes);
        killedPort = await cluster.masterOf(slot);
        const victim = cluster.servers.find((s) => s.port === killedPort);
        if (!victim) throw new Error(`no master found for slot ${slot}`);
        const killedAt = Date.now();
        victim.process.kill('SIGKILL');
        for (;;) {
          promotedPort = await cluster.masterOf(slot).catch(() => undefined);
          if (promotedPort !== undefined && promotedPort !== killedPort) break;
          if (Date.now() - killedAt > 30_000) break;
          await sleep(100);
        }
        failoverMs = Date.now() - killedAt;
      },
    },
    ({ report, drained, producerExitCode, stack }) => {
      const restarted = stack.services.filter(
        (s) => s.name !== 'producer' && !isRunning(s.process) && s.process.exitCode !== 0,
      );
      const promoted = promotedPort !== undefined && promotedPort !== killedPort;
      return result({
        scenario: 'cluster-failover',
        size: jobs,
        report,
        faults: {
          mastersKilled: killedPort === undefined ? 0 : 1,
          failoverMs: failoverMs ?? -1,
          stalledJobs: stack.tally.stalled,
        },
        faultSummary: `cluster master kill -9, replica promoted in ${failoverMs === undefined ? '?' : (failoverMs / 1000).toFixed(1)} s`,
        expectations: [
          expect('run drained', drained),
          expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('a master was killed mid-run', killedPort !== undefined),
          expect('its replica was promoted', promoted, `slot owner ${killedPort} -> ${promotedPort}`),
          expect(
            'no process restarted or died',
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
