// What the failover scenarios (cluster, sentinel) share: killing the Redis that serves the jobs at
// 30% of the run and timing the promotion and the resumption, the processes that died (what a
// supervisor would have restarted), and the expectations both make of a failover.
import { setTimeout as sleep } from 'node:timers/promises';
import { runDjq } from './djq.js';
import { isRunning, type Service } from './processes.js';
import { type Expectation, expect } from './scenario.js';
import type { ChaosStack } from './stack.js';

/** Polls `check` every 100 ms until it holds (true) or `giveUpAt` passes (false). */
export async function pollUntil(check: () => Promise<boolean>, giveUpAt: number): Promise<boolean> {
  for (;;) {
    if (await check()) return true;
    if (Date.now() > giveUpAt) return false;
    await sleep(100);
  }
}

/** Processes that exited, other than the producer's exit 0 at its MAX_OPERATIONS. */
export function diedServices(services: readonly Service[]): Service[] {
  return services.filter((s) => !isRunning(s.process) && !(s.name === 'producer' && s.process.exitCode === 0));
}

export const seconds = (ms: number | undefined) => (ms === undefined ? '?' : (ms / 1000).toFixed(1));

/** The Redis server a failover scenario kills, and how it sees that another took over. */
export interface FailoverTarget {
  /** Port of the server that serves the jobs now (undefined while none answers). */
  servingPort: () => Promise<number | undefined>;
  kill: (port: number | undefined) => Promise<void>;
  /** Jobs finished on what the killed server served. */
  finished: () => Promise<number>;
  /** How long after the kill to wait for the promotion, then for a job to finish again. */
  giveUpAfterMs: number;
}

/** What a failover run saw, filled in while it runs. */
export interface FailoverSeen {
  killedPort?: number;
  promotedPort?: number;
  failoverMs?: number;
  resumeMs?: number;
  producerRunningAfterFailover: boolean;
  /**
   * `djq recover` once the producer is done: jobs whose adds the failover dropped (the replica had
   * not received them; replication is asynchronous) are accepted in DynamoDB and in no queue, and it
   * re-enqueues them, as an operator does after a failover (docs/scale-out.md).
   */
  recovery?: { code: number | null; reEnqueued: number; detail: string };
}

/** Kills the serving server once 30% of the jobs are done, then times its replacement and the first job after it. */
export async function failOver(
  stack: ChaosStack,
  producer: Service,
  jobs: number,
  target: FailoverTarget,
): Promise<FailoverSeen> {
  const seen: FailoverSeen = { producerRunningAfterFailover: false };
  const deadline = Date.now() + 120_000;
  while ((await stack.finished()) < jobs * 0.3 && Date.now() < deadline) await sleep(200);
  seen.killedPort = await target.servingPort();
  const finishedBefore = await target.finished();
  const killedAt = Date.now();
  await target.kill(seen.killedPort);
  const giveUpAt = killedAt + target.giveUpAfterMs;
  await pollUntil(async () => {
    seen.promotedPort = await target.servingPort();
    return seen.promotedPort !== undefined && seen.promotedPort !== seen.killedPort;
  }, giveUpAt);
  seen.failoverMs = Date.now() - killedAt;
  seen.producerRunningAfterFailover = isRunning(producer.process);
  const finished = () => target.finished().catch(() => finishedBefore);
  if (await pollUntil(async () => (await finished()) > finishedBefore, giveUpAt)) seen.resumeMs = Date.now() - killedAt;
  await producer.exited;
  seen.recovery = await recoverDropped(stack);
  return seen;
}

async function recoverDropped(stack: ChaosStack): Promise<FailoverSeen['recovery']> {
  const run = await runDjq(stack.env, ['recover', '--json'], 120_000);
  try {
    const report = JSON.parse(run.stdout) as { reEnqueued?: number };
    return { code: run.code, reEnqueued: report.reEnqueued ?? 0, detail: `exit ${run.code}` };
  } catch {
    return { code: run.code, reEnqueued: 0, detail: `exit ${run.code}: ${run.stderr.slice(-300)}` };
  }
}

/** The figures and expectations of any failover run; `promoted` and `resumed` name them in the scenario's words. */
export function failoverVerdict(
  stack: ChaosStack,
  seen: FailoverSeen,
  workers: number,
  words: { killed: string; promoted: string; resumed: string },
): { faults: Record<string, number>; restarts: number; expectations: Expectation[] } {
  // No supervisor here: a process that exited (other than the producer's exit 0 at its
  // MAX_OPERATIONS) is one a supervisor would have restarted.
  const restarted = diedServices(stack.services);
  const { killedPort, promotedPort, resumeMs } = seen;
  return {
    faults: {
      failoverMs: seen.failoverMs ?? -1,
      resumeMs: resumeMs ?? -1,
      processRestarts: restarted.length,
      stalledJobs: stack.tally.stalled,
      reEnqueuedAfterFailover: seen.recovery?.reEnqueued ?? -1,
    },
    restarts: restarted.length,
    expectations: [
      expect(words.killed, killedPort !== undefined),
      expect(
        words.promoted,
        promotedPort !== undefined && promotedPort !== killedPort,
        `${killedPort} -> ${promotedPort}`,
      ),
      expect(words.resumed, resumeMs !== undefined, `${seconds(resumeMs)} s`),
      expect(
        'the producer was still producing when the failover ended',
        seen.producerRunningAfterFailover,
        'the failover must happen under the producer, or its riding is not tested',
      ),
      expect(
        'djq recover after the failover ended 0 (it re-enqueues adds the failover dropped)',
        seen.recovery?.code === 0,
        `${seen.recovery?.detail ?? 'not run'}, ${seen.recovery?.reEnqueued ?? 0} re-enqueued`,
      ),
      expect(
        'no process restarted or died (0 restarts)',
        restarted.length === 0 && stack.workers.length === workers,
        restarted.map((s) => `${s.name} exited ${s.process.exitCode ?? s.process.signalCode}`).join(', '),
      ),
    ],
  };
}
