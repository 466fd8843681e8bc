// Scenario: Redis loses everything mid-run (FLUSHALL: what a new empty server or a restart without
// persistence leaves; the queue's jobs, locks, ledger and DLQ all go). DynamoDB still holds every
// accepted job and every decided outcome: `djq recover` (here its module, run as an operator would,
// once at the loss and again after the producer is done) re-enqueues every accepted job with no
// outcome, and restores the dead-letter entries. In the end every accepted job has exactly one
// outcome, no effect was applied twice, and none was re-enqueued after it was decided.
import { setTimeout as sleep } from 'node:timers/promises';
import { checkDecisions } from '../../shared/operator/check-decisions.js';
import { recoverFromRecords } from '../../shared/operator/recover.js';
import { expect, result, type ScenarioResult } from '../scenario.js';
import type { ChaosStack } from '../stack.js';
import { runWorkload } from '../workload.js';

export const REDIS_LOSS_ENV = {
  FAULT_LATENCY_MS: 20,
  FAULT_ERROR_RATE: 0.05,
  LOCK_DURATION_MS: 2000,
  STALLED_INTERVAL_MS: 1000,
};

/**
 * Lets accepted work pile up in the queue before a loss, so the loss takes jobs nobody has run
 * yet (a queue the workers keep empty would lose only what is in flight): the queue is paused
 * (its pause lives in Redis, so the loss lifts it) until a backlog is waiting.
 */
async function pileUp(stack: ChaosStack, backlog = 30, timeoutMs = 20_000): Promise<void> {
  const { operations } = stack.queues;
  await operations.pause();
  const until = Date.now() + timeoutMs;
  while ((await operations.getWaitingCount()) < backlog && Date.now() < until) await sleep(100);
}

/** The first shard's epoch state, retried while the clients reconnect to a new server. */
async function readEpochState(stack: ChaosStack): Promise<string | undefined> {
  for (let i = 0; i < 50; i++) {
    try {
      return (await stack.sharded.shards[0]?.checkEpoch())?.state;
    } catch {
      await sleep(200);
    }
  }
  return undefined;
}

export async function redisLoss(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const tally = {
    reEnqueued: 0,
    deadLettersRestored: 0,
    passes: 0,
    epochAfterLoss: '',
    epochAfterReplace: '',
    settled: false,
  };
  const recover = async (stack: ChaosStack) => {
    const report = await recoverFromRecords(stack.sharded);
    tally.passes++;
    tally.reEnqueued += report.reEnqueued;
    tally.deadLettersRestored += report.deadLettersRestored;
  };
  return runWorkload(
    {
      scenario: 'redis-loss',
      jobs,
      env: REDIS_LOSS_ENV,
      workers: 4,
      seconds: Math.max(10, jobs / 60),
      timeoutMs: 120_000 + jobs * 40,
      expectEveryJobInLedger: false,
      during: async (stack, producer) => {
        const deadline = Date.now() + 120_000;
        while ((await stack.finished()) < jobs * 0.3 && Date.now() < deadline) await sleep(200);
        await pileUp(stack);
        await stack.redis.flushall();
        tally.epochAfterLoss = (await stack.sharded.shards[0]?.checkEpoch())?.state ?? 'none';
        await recover(stack);
        // Then the server itself is lost: a new, empty redis-server comes up on the same port.
        while ((await stack.finished()) < jobs * 0.3 && Date.now() < deadline) await sleep(200);
        await pileUp(stack);
        await stack.replaceRedisWithEmpty();
        tally.epochAfterReplace = (await readEpochState(stack)) ?? 'none';
        await recover(stack);
        await producer.exited;
        // Jobs in flight at the loss end up in no queue (their Redis state is gone): a later pass
        // finds them undecided and re-enqueues them, until DynamoDB has an outcome for every job.
        const settleBy = Date.now() + 120_000 + jobs * 20;
        while (Date.now() < settleBy) {
          await sleep(2000);
          const decisions = await checkDecisions(
            stack.stores,
            stack.sharded.shards.map((s) => s.queues),
          );
          if (decisions.undecided === 0 && decisions.undecidedNotInRedis === 0) {
            tally.settled = true;
            break;
          }
          if (decisions.undecidedNotInRedis > 0) await recover(stack);
        }
      },
    },
    ({ report, drained, producerExitCode }) =>
      result({
        scenario: 'redis-loss',
        size: jobs,
        report,
        faults: { reEnqueued: tally.reEnqueued, deadLettersRestored: tally.deadLettersRestored, passes: tally.passes },
        // The ledger (in Redis) lost what came before the FLUSHALL: DynamoDB's records count the run.
        faultSummary: `FLUSHALL at 30%, then a new empty redis-server (ledger from then on; ${report.decisions.records} jobs in DynamoDB's records); djq recover ×${tally.passes}: ${tally.reEnqueued} re-enqueued, ${tally.deadLettersRestored} DLQ entries restored`,
        expectations: [
          expect('run drained', drained),
          expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('the loss was seen (epoch)', tally.epochAfterLoss === 'redis-lost', tally.epochAfterLoss),
          expect(
            'the empty server was seen (epoch)',
            tally.epochAfterReplace === 'redis-lost',
            tally.epochAfterReplace,
          ),
          expect('recovery re-enqueued the lost work', tally.reEnqueued > 0, `${tally.reEnqueued}`),
          expect('every accepted job decided', tally.settled, `records ${report.decisions.records}`),
          expect(
            'every job accepted in DynamoDB',
            report.decisions.records >= jobs,
            `${report.decisions.records} of ${jobs}`,
          ),
          expect('no job had two outcomes', report.decisions.twoOutcomes === 0, `${report.decisions.twoOutcomes}`),
        ],
        startedAt,
      }),
  );
}
