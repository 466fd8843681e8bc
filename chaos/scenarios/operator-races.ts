// Scenario: redrive and purge storms by several operators at once, on the same job ids, while jobs
// keep failing (poison payloads, DynamoDB throttling and 5xx), every worker's sweep runs five times
// a second and DynamoDB is slow. Two in-process consoles (each its own Redis connection and actor)
// act on overlapping picks, even on the very same id at the same moment, and `djq dlq` processes
// redrive --all and purge beside them. In the end every job is in exactly one state (completed,
// dead-lettered or purged), no redrive is left half-done, and the checker finds nothing lost.
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import type { DlqActionReport } from '../../shared/operator/dlq-console.js';
import { connectRedis, type RedisConnection } from '../../shared/runtime/redis.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { type JobSystem, openJobSystem } from '../../shared/wiring.js';
import { runDjq } from '../djq.js';
import { type Expectation, expect, type ScenarioResult } from '../scenario.js';
import { type ChaosStack, every, sum } from '../stack.js';
import { workloadScenario } from '../workload.js';

export const OPERATOR_RACES_ENV = {
  INVALID_JOB_RATE: 0.15,
  // Throttles injected at random, whatever the load, exercise the retry paths here; with flow
  // control they would also pull the fleet's rate down (docs/operations.md: When DynamoDB throttles, limits).
  FLOW_CONTROL: false,
  // Nor the SDK's adaptive retries, whose client-side limiter would slow each worker as well.
  DYNAMODB_RETRY_MODE: 'standard',
  FAULT_THROTTLE_RATE: 0.1,
  FAULT_ERROR_RATE: 0.1,
  FAULT_LATENCY_MS: 40,
  DYNAMODB_MAX_ATTEMPTS: 1,
  JOB_ATTEMPTS: 2,
  JOB_BACKOFF_MS: 20,
  DLQ_SWEEP_INTERVAL_MS: 200,
  WORKER_CONCURRENCY: 8,
};

/** How long the storms go on after the producer is done. */
const STORM_TAIL_MS = 3000;
/** Of the picks an operator acts on, this share is purged (the rest redriven): enough stay to race on. */
const PURGE_SHARE = 0.2;

interface Tally {
  redriven: number;
  purged: number;
  notFound: number;
  busy: number;
  /** The same id redriven by one console and purged by the other at the same moment. */
  headOn: number;
  djqRuns: number;
  /** djq runs that ended with something other than 0 (done) or 1 (some id not found or busy). */
  djqFailures: string[];
}

export async function operatorRaces(jobs: number): Promise<ScenarioResult> {
  const tally: Tally = { redriven: 0, purged: 0, notFound: 0, busy: 0, headOn: 0, djqRuns: 0, djqFailures: [] };
  return workloadScenario(
    'operator-races',
    jobs,
    {
      env: OPERATOR_RACES_ENV,
      workers: 3,
      seconds: Math.max(8, jobs / 60),
      during: async (stack, producer) => {
        const operators = [openOperator(stack, 'op-a'), openOperator(stack, 'op-b')] as const;
        const [a, b] = operators;
        const storms = [
          every(100, () => consoleStorm(a, tally)),
          every(100, () => consoleStorm(b, tally)),
          every(150, () => headOn(a, b, tally)),
          every(200, () => djqStorm(stack, 'redrive', tally)),
          every(200, () => djqStorm(stack, 'purge', tally)),
        ];
        // The storms last as long as the producer, and a while after (the last jobs still fail);
        // then they stop and the queue drains.
        await producer.exited;
        await sleep(STORM_TAIL_MS);
        await Promise.all(storms.map((s) => s.stop()));
        await Promise.all(operators.map((o) => o.close()));
      },
    },
    async ({ stack }) => {
      const intentsLeft = await waitNoIntents(stack, 30_000);
      const states = await jobStates(stack);
      const history = await redrivenInHistory(stack);
      const expectations: Expectation[] = [
        expect(
          'operators redrove and purged, racing on the same ids',
          tally.redriven > 0 && tally.purged > 0 && tally.headOn > 0,
          `redriven ${tally.redriven}, purged ${tally.purged}, head-on ${tally.headOn}, not found ${tally.notFound}, busy ${tally.busy}`,
        ),
        expect(
          'every djq run ended 0 or 1 with its JSON report',
          tally.djqRuns > 0 && tally.djqFailures.length === 0,
          `${tally.djqRuns} runs${tally.djqFailures.length ? `; ${tally.djqFailures.slice(0, 3).join(' | ')}` : ''}`,
        ),
        expect(
          'every job in exactly one state: completed, dead-lettered or purged',
          states.notExactlyOne.length === 0,
          states.notExactlyOne.length
            ? `${states.notExactlyOne.length} jobs, e.g. ${states.notExactlyOne.slice(0, 3).join('; ')}`
            : JSON.stringify(states.counts),
        ),
        expect('no redrive left half-done (no redrive intents)', intentsLeft === 0, `${intentsLeft} intents`),
        expect(
          "a redriven job's history shows its redriven entry",
          history.checked > 0 && history.missing.length === 0,
          `${history.checked} checked${history.missing.length ? `, missing for ${history.missing.join(', ')}` : ''}`,
        ),
      ];
      return {
        faults: {
          redriven: tally.redriven,
          purged: tally.purged,
          headOn: tally.headOn,
          notFound: tally.notFound,
          busy: tally.busy,
          djqRuns: tally.djqRuns,
          failedAttemptsRetried: sum(stack.tally.retries),
        },
        faultSummary: `2 consoles + djq: ${tally.redriven} redrives, ${tally.purged} purges (${tally.headOn} head-on), 15% poison, 20% faults, +40 ms`,
        expectations,
      };
    },
  );
}

interface Operator {
  actor: string;
  system: JobSystem;
  close(): Promise<void>;
}

/** An operator with its own Redis connection, wired as djq and the board are, under its own name. */
function openOperator(stack: ChaosStack, actor: string): Operator {
  const redis: RedisConnection = connectRedis(stack.config);
  redis.on('error', () => undefined);
  const system = openJobSystem({
    config: stack.config,
    redis,
    stores: createDynamoStores(stack.dynamo, stack.config),
    logger: pino({ level: 'silent' }),
    actor,
  });
  return {
    actor,
    system,
    close: async () => {
      await system.close();
      redis.disconnect();
    },
  };
}

function count(tally: Tally, report: DlqActionReport, action: 'redrive' | 'purge'): void {
  if (action === 'redrive') tally.redriven += report.done.length;
  else tally.purged += report.done.length;
  tally.notFound += report.notFound.length;
  tally.busy += report.busy.length;
}

/** A few random DLQ entries, each redriven or purged, all at once (several transitions in flight). */
async function consoleStorm(operator: Operator, tally: Tally): Promise<void> {
  const entries = await operator.system.console.list();
  const picks = shuffle(entries.map((e) => e.jobId)).slice(0, 6);
  await Promise.all(
    picks.map(async (jobId) => {
      const action = Math.random() < PURGE_SHARE ? 'purge' : 'redrive';
      count(tally, await operator.system.console[action]({ jobIds: [jobId] }), action);
    }),
  );
}

/** One id, redriven by one console and purged (or redriven) by the other at the same moment. */
async function headOn(a: Operator, b: Operator, tally: Tally): Promise<void> {
  const [jobId] = shuffle((await a.system.console.list()).map((e) => e.jobId));
  if (!jobId) return;
  const second = Math.random() < 0.5 ? 'purge' : 'redrive';
  const [first, other] = await Promise.all([
    a.system.console.redrive({ jobIds: [jobId] }),
    b.system.console[second]({ jobIds: [jobId] }),
  ]);
  count(tally, first, 'redrive');
  count(tally, other, second);
  tally.headOn++;
}

/** `djq dlq redrive --all`, or `djq dlq purge` of two random entries, as an operator would type it. */
async function djqStorm(stack: ChaosStack, action: 'redrive' | 'purge', tally: Tally): Promise<void> {
  let args: string[];
  if (action === 'redrive') args = ['dlq', 'redrive', '--all', '--json'];
  else {
    const picks = shuffle((await stack.system.console.list()).map((e) => e.jobId)).slice(0, 2);
    if (picks.length === 0) return;
    args = ['dlq', 'purge', ...picks, '--json'];
  }
  const run = await runDjq(stack.env, args);
  tally.djqRuns++;
  let report: { redriven?: string[]; purged?: string[]; notFound?: string[]; busy?: unknown[] } | undefined;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    report = undefined;
  }
  if ((run.code !== 0 && run.code !== 1) || !report) {
    tally.djqFailures.push(`djq ${args.join(' ')}: exit ${run.code}: ${run.stderr.slice(0, 300)}`);
    return;
  }
  tally.redriven += report.redriven?.length ?? 0;
  tally.purged += report.purged?.length ?? 0;
  tally.notFound += report.notFound?.length ?? 0;
  tally.busy += report.busy?.length ?? 0;
}

/** Redrive intents left (a redrive that died half-way is finished by the next sweep). */
async function waitNoIntents(stack: ChaosStack, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await stack.redis.hlen(stack.system.keys.redriveIntents);
    if (left === 0 || Date.now() >= deadline) return left;
    await sleep(200);
  }
}

const UNFINISHED = new Set(['waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children', 'failed']);

/** Each job's states by every record: the DLQ, DynamoDB's outcome, and the operations queue. */
async function jobStates(stack: ChaosStack): Promise<{ counts: Record<string, number>; notExactlyOne: string[] }> {
  const enqueued = await stack.ledger.readEnqueued();
  const outcomes = await stack.decided.of(enqueued.keys());
  const dlq = new Set((await stack.system.console.list()).map((e) => e.jobId));
  const counts: Record<string, number> = {};
  const notExactlyOne: string[] = [];
  for (const id of enqueued.keys()) {
    const states: string[] = [];
    if (dlq.has(id)) states.push('dead-lettered');
    const outcome = outcomes.get(id)?.outcome;
    if (outcome === 'completed' || outcome === 'purged') states.push(outcome);
    const queueState = await stack.queues.operations.getJobState(id);
    if (UNFINISHED.has(queueState)) states.push(`in the queue (${queueState})`);
    if (states.length !== 1) notExactlyOne.push(`${id}: ${states.join(' + ') || 'nowhere'} (decided: ${outcome})`);
    else counts[states[0] as string] = (counts[states[0] as string] ?? 0) + 1;
  }
  return { counts, notExactlyOne };
}

/** Up to 5 jobs the ledger says were redriven: each one's history holds a `redriven` entry. */
async function redrivenInHistory(stack: ChaosStack): Promise<{ checked: number; missing: string[] }> {
  const redriven = new Set<string>();
  for (const [, fields] of await stack.redis.xrange(stack.ledger.outcomesKey, '-', '+')) {
    if (fields[3] === 'redriven' && fields[1]) redriven.add(fields[1]);
    if (redriven.size >= 5) break;
  }
  const missing: string[] = [];
  for (const id of redriven) {
    const entries = await stack.stores.history.list(id);
    if (!entries.some((e) => e.type === 'redriven')) missing.push(id);
  }
  return { checked: redriven.size, missing };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
