// Scenario: Redis loses acknowledged work, three ways, mid-run: FLUSHALL (the queue's jobs, locks,
// ledger and DLQ all go); a failover that drops the last writes (the primary, whose replica lags,
// takes a burst of adds and is killed -9; the replica is promoted and every process follows it
// through the Redis endpoint); and a new, empty redis-server on the same port. DynamoDB still holds
// every accepted job and every decided outcome: `djq recover` (the real CLI, a child process, run
// as an operator would after each loss and again once the producer is done) re-enqueues every
// accepted job with no outcome and restores the dead-letter entries. In the end every accepted job
// has exactly one outcome, no effect was applied twice, and none was re-enqueued after it was decided.
import { setTimeout as sleep } from 'node:timers/promises';
import { checkDecisions } from '../../shared/operator/check-decisions.js';
import { runDjq } from '../djq.js';
import { failOverToLaggingReplica, type ReplicaFailover } from '../replica-failover.js';
import { expect, result, type ScenarioResult } from '../scenario.js';
import type { ChaosStack } from '../stack.js';
import { runWorkload, type WorkloadRun } from '../workload.js';

export const REDIS_LOSS_ENV = {
  // The operator's way, measured: the workers' own recovery after a loss (on by default) is off, so
  // each loss stays until `djq recover` runs (test/integration/redis-change.test.ts has the other).
  RECOVER_ON_REDIS_CHANGE: 'false',
  FAULT_LATENCY_MS: 20,
  FAULT_ERROR_RATE: 0.05,
  LOCK_DURATION_MS: 2000,
  STALLED_INTERVAL_MS: 1000,
};

/** Where the promoted replica listens (this scenario's own range, clear of other runs' servers). */
const REPLICA_PORTS: [number, number] = [7740, 7769];

/**
 * Lets accepted work pile up in the queue before a loss, so the loss takes jobs nobody has run
 * yet (a queue the workers keep empty would lose only what is in flight): the queue is paused
 * (its pause lives in Redis, so the loss lifts it) until a backlog is waiting.
 */
async function pileUp(stack: ChaosStack, backlog = 30, timeoutMs = 20_000): Promise<number> {
  const { operations } = stack.queues;
  await operations.pause();
  const until = Date.now() + timeoutMs;
  for (;;) {
    const waiting = await operations.getWaitingCount();
    if (waiting >= backlog || Date.now() >= until) return waiting;
    await sleep(100);
  }
}

/** The first shard's epoch state, retried while the clients reconnect to a new server. */
async function readEpochState(stack: ChaosStack): Promise<string> {
  for (let i = 0; i < 50; i++) {
    try {
      return (await stack.sharded.shards[0]?.checkEpoch())?.state ?? 'none';
    } catch {
      await sleep(200);
    }
  }
  return 'unreadable';
}

interface LossTally {
  reEnqueued: number;
  deadLettersRestored: number;
  /** `djq recover` runs. */
  passes: number;
  /** Jobs the pass right after the failover re-enqueued: what the promoted replica lacked. */
  reEnqueuedAfterFailover: number;
  /** Jobs waiting (the backlog) when each loss struck: flush, failover, empty server. */
  backlogs: number[];
  epochAfterLoss: string;
  epochAfterFailover: string;
  epochAfterReplace: string;
  failover: ReplicaFailover | undefined;
  /** Jobs decided (DynamoDB) after the promotion, by the workers on the promoted replica. */
  decidedAfterFailover: number;
  settled: boolean;
  djqFailures: string[];
}

/** `djq recover --json` as an operator runs it; its report counted, a failed run kept. */
async function recover(stack: ChaosStack, tally: LossTally): Promise<number> {
  const run = await runDjq(stack.env, ['recover', '--json'], 120_000);
  tally.passes++;
  let report: { reEnqueued?: number; deadLettersRestored?: number } | undefined;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    report = undefined;
  }
  if (run.code !== 0 || !report) {
    tally.djqFailures.push(`djq recover: exit ${run.code}: ${run.stderr.slice(-300)}`);
    return 0;
  }
  tally.reEnqueued += report.reEnqueued ?? 0;
  tally.deadLettersRestored += report.deadLettersRestored ?? 0;
  return report.reEnqueued ?? 0;
}

/** Jobs DynamoDB has an outcome for, among the accepted ones. */
async function decidedCount(stack: ChaosStack): Promise<number> {
  const d = await checkDecisions(
    stack.stores,
    stack.sharded.shards.map((s) => s.queues),
  );
  return d.records - d.undecided - d.undecidedNotInRedis;
}

/** The failover phase: a burst while the replica lags, kill -9, promotion, then djq recover. */
async function failoverPhase(stack: ChaosStack, tally: LossTally): Promise<void> {
  tally.failover = await failOverToLaggingReplica(
    stack,
    async () => {
      tally.backlogs.push(await pileUp(stack));
    },
    REPLICA_PORTS,
  );
  tally.epochAfterFailover = await readEpochState(stack);
  const decidedAtPromotion = await decidedCount(stack);
  tally.reEnqueuedAfterFailover = await recover(stack, tally);
  tally.decidedAfterFailover = (await decidedCount(stack)) - decidedAtPromotion;
}

/** Recovery passes until DynamoDB has an outcome for every accepted job (or the deadline). */
async function settle(stack: ChaosStack, tally: LossTally, timeoutMs: number): Promise<void> {
  // Jobs in flight at a loss end up in no queue (their Redis state is gone): a later pass
  // finds them undecided and re-enqueues them, until DynamoDB has an outcome for every job.
  const settleBy = Date.now() + timeoutMs;
  while (Date.now() < settleBy) {
    await sleep(2000);
    const decisions = await checkDecisions(
      stack.stores,
      stack.sharded.shards.map((s) => s.queues),
    );
    if (decisions.undecided === 0 && decisions.undecidedNotInRedis === 0) {
      tally.settled = true;
      return;
    }
    if (decisions.undecidedNotInRedis > 0) await recover(stack, tally);
  }
}

export async function redisLoss(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const tally: LossTally = {
    reEnqueued: 0,
    deadLettersRestored: 0,
    passes: 0,
    reEnqueuedAfterFailover: 0,
    backlogs: [],
    epochAfterLoss: '',
    epochAfterFailover: '',
    epochAfterReplace: '',
    failover: undefined,
    decidedAfterFailover: 0,
    settled: false,
    djqFailures: [],
  };
  // Long enough that the producer is still adding when the third loss strikes.
  const seconds = Math.max(30, jobs / 60);
  return runWorkload(
    {
      scenario: 'redis-loss',
      jobs,
      env: REDIS_LOSS_ENV,
      workers: 4,
      seconds,
      timeoutMs: 120_000 + jobs * 40,
      expectEveryJobInLedger: false,
      redisEndpoint: true,
      during: async (stack, producer) => {
        const producing = Date.now();
        const at = async (share: number) => {
          const wait = producing + share * seconds * 1000 - Date.now();
          if (wait > 0) await sleep(wait);
        };
        await at(0.25);
        tally.backlogs.push(await pileUp(stack));
        await stack.redis.flushall();
        tally.epochAfterLoss = await readEpochState(stack);
        await recover(stack, tally);
        await at(0.5);
        await failoverPhase(stack, tally);
        // Then the server itself is lost: a new, empty redis-server comes up on the same port.
        await at(0.75);
        tally.backlogs.push(await pileUp(stack));
        await stack.replaceRedisWithEmpty();
        tally.epochAfterReplace = await readEpochState(stack);
        await recover(stack, tally);
        await producer.exited;
        await settle(stack, tally, 120_000 + jobs * 20);
      },
    },
    (run) => lossResult(jobs, startedAt, tally, run),
  );
}

function lossResult(
  jobs: number,
  startedAt: number,
  tally: LossTally,
  run: Pick<WorkloadRun, 'report' | 'drained' | 'producerExitCode' | 'stack'>,
): ScenarioResult {
  const { report, drained, producerExitCode, stack } = run;
  const failover = tally.failover;
  const workersAlive = stack.liveWorkers().length;
  return result({
    scenario: 'redis-loss',
    size: jobs,
    report,
    faults: {
      reEnqueued: tally.reEnqueued,
      deadLettersRestored: tally.deadLettersRestored,
      passes: tally.passes,
      reEnqueuedAfterFailover: tally.reEnqueuedAfterFailover,
      replicaLagBytes: failover?.lagBytes ?? -1,
      failoverMs: failover?.failoverMs ?? -1,
      decidedAfterFailover: tally.decidedAfterFailover,
      backlogs: tally.backlogs.join('/'),
    },
    // The ledger (in Redis) lost what came before each loss: DynamoDB's records count the run.
    faultSummary:
      `FLUSHALL at 25%, failover at 50% (primary kill -9, replica ${failover?.lagBytes ?? '?'} bytes behind, promoted), ` +
      `a new empty redis-server at 75% (backlogs ${tally.backlogs.join('/')}; ${report.decisions.records} jobs in DynamoDB's records); ` +
      `djq recover ×${tally.passes}: ${tally.reEnqueued} re-enqueued (${tally.reEnqueuedAfterFailover} after the failover), ` +
      `${tally.deadLettersRestored} DLQ entries restored`,
    expectations: [
      expect('run drained', drained),
      expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
      expect('the loss was seen (epoch)', tally.epochAfterLoss === 'redis-lost', tally.epochAfterLoss),
      expect(
        'the replica lagged when the primary was killed',
        (failover?.lagBytes ?? 0) > 0,
        `${failover?.lagBytes} bytes`,
      ),
      expect(
        'the promoted replica kept its epoch (a failover, not an empty Redis)',
        tally.epochAfterFailover === 'ok',
        tally.epochAfterFailover,
      ),
      expect(
        'recovery brought back what the failover dropped',
        tally.reEnqueuedAfterFailover > 0,
        `${tally.reEnqueuedAfterFailover} re-enqueued`,
      ),
      expect(
        'the workers went on against the promoted replica',
        tally.decidedAfterFailover > 0 && workersAlive === 4,
        `${tally.decidedAfterFailover} jobs decided meanwhile, ${workersAlive} workers alive`,
      ),
      expect('the empty server was seen (epoch)', tally.epochAfterReplace === 'redis-lost', tally.epochAfterReplace),
      expect('recovery re-enqueued the lost work', tally.reEnqueued > 0, `${tally.reEnqueued}`),
      expect(
        'every djq recover ended 0 with its report',
        tally.djqFailures.length === 0,
        tally.djqFailures.join(' | '),
      ),
      expect('every accepted job decided', tally.settled, `records ${report.decisions.records}`),
      expect(
        'every job accepted in DynamoDB',
        report.decisions.records >= jobs,
        `${report.decisions.records} of ${jobs}`,
      ),
    ],
    startedAt,
  });
}
