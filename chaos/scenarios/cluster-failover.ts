// Scenario: a Redis Cluster master killed (-9) mid-run. The queue is split into 3 shards (one hash
// tag each, on 3 distinct masters); the master serving shard 0 dies while jobs flow, its replica is
// promoted after Redis's default cluster-node-timeout (15 s), and the producer and workers ride it
// without exiting (shared/runtime/redis.ts): the run completes with nothing lost or applied twice,
// 0 process restarts, and the time from the kill to shard 0's next finished job is reported.
import { keySlot } from '../../shared/lifecycle/key-slot.js';
import { type FailoverSeen, failOver, failoverVerdict, seconds } from '../failover.js';
import type { ScenarioResult } from '../scenario.js';
import { workloadScenario } from '../workload.js';

const WORKERS = 3;

/** Redis's own default cluster-node-timeout: what a deployment that tuned nothing has. */
const REDIS_DEFAULT_NODE_TIMEOUT_MS = 15_000;

export async function clusterFailover(
  jobs: number,
  options: { nodeTimeoutMs?: number; portRange?: [number, number] } = {},
): Promise<ScenarioResult> {
  const nodeTimeoutMs = options.nodeTimeoutMs ?? REDIS_DEFAULT_NODE_TIMEOUT_MS;
  let seen: FailoverSeen = { producerRunningAfterFailover: false };
  return workloadScenario(
    'cluster-failover',
    jobs,
    {
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
        // The master of shard 0's slot: its producer writes, workers' fetches and locks all go there.
        const slot = keySlot(stack.system.keys.ledgerOutcomes);
        seen = await failOver(stack, producer, jobs, {
          servingPort: () => cluster.masterOf(slot).catch(() => undefined),
          kill: async (port) => {
            const victim = cluster.servers.find((s) => s.port === port);
            if (!victim) throw new Error(`no master found for slot ${slot}`);
            victim.process.kill('SIGKILL');
          },
          // Resumed: shard 0 (the killed master's) records a finished job again.
          finished: () => stack.finished(0),
          giveUpAfterMs: nodeTimeoutMs * 3 + 30_000,
        });
      },
    },
    ({ stack }) => {
      const verdict = failoverVerdict(stack, seen, WORKERS, {
        killed: 'a master was killed mid-run',
        promoted: 'its replica was promoted',
        resumed: 'the shard resumed after the failover',
      });
      return {
        faults: { mastersKilled: seen.killedPort === undefined ? 0 : 1, nodeTimeoutMs, ...verdict.faults },
        faultSummary: `cluster master kill -9 (node timeout ${nodeTimeoutMs / 1000} s), replica promoted in ${seconds(seen.failoverMs)} s, shard resumed in ${seconds(seen.resumeMs)} s, ${verdict.restarts} restarts`,
        expectations: verdict.expectations,
      };
    },
  );
}
