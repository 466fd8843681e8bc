// Scenario: the Redis primary killed (-9) mid-run under Sentinel. A primary, its replica and 3
// redis-sentinel processes (quorum 2, down-after 1 s); every process reaches Redis through
// REDIS_SENTINELS. The sentinels promote the replica and the producer and workers follow it on
// their own: nothing lost or applied twice, 0 process restarts, and the time from the kill until
// jobs finish again is reported.
import { type FailoverSeen, failOver, failoverVerdict, seconds } from '../failover.js';
import type { ScenarioResult } from '../scenario.js';
import { workloadScenario } from '../workload.js';

const WORKERS = 3;

export async function sentinelFailover(
  jobs: number,
  options: { downAfterMs?: number; portRange?: [number, number] } = {},
): Promise<ScenarioResult> {
  const downAfterMs = options.downAfterMs ?? 1000;
  let seen: FailoverSeen = { producerRunningAfterFailover: false };
  return workloadScenario(
    'sentinel-failover',
    jobs,
    {
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
        seen = await failOver(stack, producer, jobs, {
          servingPort: () => group.masterPort(),
          kill: () => group.primary.stop('SIGKILL'),
          finished: () => stack.finished(),
          giveUpAfterMs: downAfterMs * 3 + 60_000,
        });
      },
    },
    ({ stack }) => {
      const verdict = failoverVerdict(stack, seen, WORKERS, {
        killed: 'the primary was killed mid-run',
        promoted: 'the sentinels promoted the replica',
        resumed: 'jobs finished again after the failover',
      });
      return {
        faults: { primariesKilled: seen.killedPort === undefined ? 0 : 1, downAfterMs, ...verdict.faults },
        faultSummary: `primary kill -9 (down-after ${downAfterMs / 1000} s), replica promoted in ${seconds(seen.failoverMs)} s, jobs finishing again in ${seconds(seen.resumeMs)} s, ${verdict.restarts} restarts`,
        expectations: verdict.expectations,
      };
    },
  );
}
