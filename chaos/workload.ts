// The workload most scenarios share: a paced producer and N worker processes on a stack of their
// own, optionally with a worker killed (-9) and replaced every few seconds and memory sampled,
// until every job has finished; then the checker and the dead-letter entries.

import { setTimeout as sleep } from 'node:timers/promises';
import type { CapacityBudget } from '../devtools/capacity-limit.js';
import type { DeadLetterEntry } from '../shared/lifecycle/dead-letter.js';
import { queueKeys } from '../shared/lifecycle/keys.js';
import type { CheckReport } from '../shared/operator/check.js';
import { isRunning, rssMb, type Service } from './processes.js';
import { type Expectation, expect, result, type ScenarioResult } from './scenario.js';
import {
  ChaosStack,
  type ClusterStackOptions,
  type EnvOverrides,
  every,
  pace,
  type SentinelStackOptions,
} from './stack.js';

export interface WorkloadOptions {
  scenario: string;
  jobs: number;
  /** Environment for every process (faults, locks, rates). */
  env: EnvOverrides;
  workers: number;
  /** The producer spreads the jobs over about this many seconds. */
  seconds: number;
  /** kill -9 one worker (never w1, kept as the long-lived one) and start a replacement, this often. */
  killEveryMs?: number;
  /** Sample worker RSS and Redis memory this often. */
  sampleEveryMs?: number;
  timeoutMs?: number;
  /** Something done to the stack every `everyMs` while the run goes on (besides kills). */
  periodic?: { everyMs: number; run: (stack: ChaosStack) => Promise<void> };
  /** Run on a Redis Cluster (3 masters, 3 replicas) instead of one redis-server. */
  cluster?: boolean;
  /** The cluster's cluster-node-timeout and its nodes' ports. @default 1000 ms, any free ports */
  clusterOptions?: ClusterStackOptions;
  /** Set: run on a primary, a replica and 3 sentinels instead of one redis-server. */
  sentinel?: SentinelStackOptions;
  /** Reach the single redis-server through a RedisEndpoint (a scenario can promote a replica behind it). */
  redisEndpoint?: boolean;
  /** A table-wide capacity budget the workers and the producer meet (the checker does not). */
  capacity?: CapacityBudget;
  /**
   * Wait for the ledger to hold every job before calling the run drained (default). False when the
   * scenario loses the ledger on purpose (Redis loses its data): DynamoDB's records decide then.
   */
  expectEveryJobInLedger?: boolean;
  /** Called once the run is going (e.g. to restart Redis mid-run). */
  during?: (stack: ChaosStack, producer: Service) => Promise<void>;
}

export interface MemorySamples {
  /** RSS of the long-lived worker w1 (MB). */
  workerRssMb: number[];
  /** Largest RSS among the live workers at each sample (MB). */
  workerRssMaxMb: number[];
  /** Redis INFO memory used_memory (MB). */
  redisUsedMemoryMb: number[];
  /** used_memory less the ledger streams and the DLQ, which keep every job by design (MB). */
  redisQueueMemoryMb: number[];
  /** Jobs finished (ledger outcomes) at each sample. */
  finishedAt: number[];
}

export interface WorkloadRun {
  stack: ChaosStack;
  report: CheckReport;
  drained: boolean;
  /** performance.now() when the run was seen drained (before the check, which a loaded machine slows). */
  drainedAt: number;
  producerExitCode: number | null;
  kills: number;
  deadLetters: DeadLetterEntry[];
  memory: MemorySamples;
}

export async function runWorkload<T>(
  options: WorkloadOptions,
  finish: (run: WorkloadRun) => T | Promise<T>,
): Promise<T> {
  const stack = await ChaosStack.start(options.scenario, options.env, {
    cluster: options.cluster ?? false,
    ...(options.clusterOptions ? { clusterOptions: options.clusterOptions } : {}),
    ...(options.sentinel ? { sentinel: options.sentinel } : {}),
    ...(options.capacity ? { capacity: options.capacity } : {}),
    ...(options.redisEndpoint ? { redisEndpoint: true } : {}),
  });
  try {
    const memory: MemorySamples = {
      workerRssMb: [],
      workerRssMaxMb: [],
      redisUsedMemoryMb: [],
      redisQueueMemoryMb: [],
      finishedAt: [],
    };
    for (let i = 0; i < options.workers; i++) stack.startWorker();
    const producer = stack.startProducer(pace(options.jobs, options.seconds));

    let kills = 0;
    const killer = options.killEveryMs
      ? every(options.killEveryMs, async () => {
          // Only workers that are consuming: killing one still starting up would hit no jobs.
          const consuming = await stack.consumingWorkerIds();
          const candidates = stack.liveWorkers().filter((w) => w.name !== 'w1' && consuming.has(w.name));
          const victim = candidates[Math.floor(Math.random() * candidates.length)];
          if (!victim) return;
          victim.process.kill('SIGKILL');
          await victim.exited;
          kills++;
          stack.startWorker();
        })
      : undefined;
    const periodic = options.periodic
      ? every(options.periodic.everyMs, () => options.periodic?.run(stack) ?? Promise.resolve())
      : undefined;
    const sampler = options.sampleEveryMs
      ? every(options.sampleEveryMs, async () => {
          await sampleMemory(stack, memory);
        })
      : undefined;

    await options.during?.(stack, producer);
    const drained = await stack.waitDrained({
      producer,
      timeoutMs: options.timeoutMs ?? 60_000 + options.jobs * 40,
      ...(options.expectEveryJobInLedger === false ? {} : { expectedEnqueued: options.jobs }),
    });
    const drainedAt = performance.now();
    await killer?.stop();
    await periodic?.stop();
    await sampler?.stop();
    // Let the replacement workers finish starting, so stopping them is a clean drain.
    await sleep(200);
    const report = await stack.check({ kills });
    const deadLetters = await stack.sharded.console.list();
    if (!drained) await printDiagnostics(stack);
    if (report.duplicated > 0) await explainJobs(stack, 'duplicated', report.examples.duplicated);
    if (report.lost > 0) await explainJobs(stack, 'lost', report.examples.lost);
    return await finish({
      stack,
      report,
      drained,
      drainedAt,
      producerExitCode: producer.process.exitCode,
      kills,
      deadLetters,
      memory,
    });
  } finally {
    await stack.stop();
  }
}

/** What a workload scenario says of its run, besides the checker's figures. */
export interface WorkloadVerdict {
  faults: Record<string, number | string>;
  faultSummary: string;
  /** The scenario's own; `workloadScenario` puts the ones every run has (`runExpectations`) first. */
  expectations: Expectation[];
  extra?: Record<string, unknown>;
}

/**
 * A scenario on the shared workload: runs `jobs` jobs on a stack named after the scenario and
 * builds its result, the expectations every run has first, then the scenario's own.
 */
export async function workloadScenario(
  scenario: string,
  jobs: number,
  options: Omit<WorkloadOptions, 'scenario' | 'jobs'>,
  judge: (run: WorkloadRun) => WorkloadVerdict | Promise<WorkloadVerdict>,
): Promise<ScenarioResult> {
  const startedAt = performance.now();
  return runWorkload({ scenario, jobs, ...options }, async (run) => {
    const verdict = await judge(run);
    return result({
      scenario,
      size: jobs,
      report: run.report,
      ...verdict,
      expectations: [...runExpectations(run, jobs), ...verdict.expectations],
      startedAt,
    });
  });
}

/** What every workload run must do whatever was injected: drain, let the producer finish, enqueue every job. */
export function runExpectations(run: WorkloadRun, jobs: number): Expectation[] {
  return [
    expect('run drained', run.drained),
    expect('producer exited 0', run.producerExitCode === 0, `exit ${run.producerExitCode}`),
    expect('every job enqueued', run.report.enqueued === jobs, `${run.report.enqueued} of ${jobs}`),
  ];
}

/** What a run that did not drain left behind, on stderr (a table row alone would not say why). */
async function printDiagnostics(stack: ChaosStack): Promise<void> {
  const counts = await stack.queues.operations.getJobCounts();
  const stuck = await stack.queues.operations.getJobs(['active', 'waiting', 'delayed', 'failed'], 0, 4);
  const lines = [
    `[${stack.name}] did not drain: ${JSON.stringify(counts)}; live workers ${stack.liveWorkers().map((w) => w.name)}`,
    ...stuck.map((j) => `  job ${j.id} ${j.name} attemptsMade ${j.attemptsMade} failedReason ${j.failedReason}`),
    ...stack.services
      .filter((s) => !isRunning(s.process))
      .map((s) => `  ${s.name} exited ${s.process.exitCode ?? s.process.signalCode}: ${s.output().slice(-600)}`),
    ...stack.liveWorkers().map((w) => `  ${w.name} (live), last output: ${w.output().slice(-1500)}`),
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
}

/** For a job the checker counts lost or twice: its record's marks, its state in Redis, its DLQ entry and its events, on stderr. */
async function explainJobs(stack: ChaosStack, verdict: string, jobIds: readonly string[]): Promise<void> {
  const wanted = new Set(jobIds);
  const outcomes = (await stack.stores.jobs.getMany(jobIds)).map((r) => ({
    jobId: r.jobId,
    gen: r.gen,
    outcome: r.outcome,
    marks: r.marks,
  }));
  const states = await Promise.all(jobIds.map((id) => stack.queues.operations.getJobState(id)));
  const events = [];
  for await (const e of stack.stores.events.scanAll()) if (wanted.has(e.jobId)) events.push(e);
  const dlq = await Promise.all(jobIds.map(async (id) => (await stack.queues.deadLetter.getJob(id))?.data));
  process.stderr.write(
    `[${stack.name}] ${verdict} ${JSON.stringify(jobIds)}:\n  outcomes ${JSON.stringify(outcomes)}\n  in Redis ${JSON.stringify(states)}\n  events ${JSON.stringify(events)}\n  dlq ${JSON.stringify(dlq)}\n`,
  );
}

async function sampleMemory(stack: ChaosStack, memory: MemorySamples): Promise<void> {
  const live = stack.liveWorkers();
  const w1 = live.find((w) => w.name === 'w1');
  const rss = live.map((w) => rssMb(w.process.pid)).filter((v): v is number => v !== undefined);
  const used = await stack.redisUsedMemoryMb();
  const byDesign = await keptByDesignMb(stack);
  const w1Rss = w1 && isRunning(w1.process) ? rssMb(w1.process.pid) : undefined;
  if (w1Rss !== undefined) memory.workerRssMb.push(round(w1Rss));
  if (rss.length > 0) memory.workerRssMaxMb.push(round(Math.max(...rss)));
  memory.redisUsedMemoryMb.push(round(used));
  memory.redisQueueMemoryMb.push(round(used - byDesign));
  memory.finishedAt.push(await stack.finished());
}

/** Memory of the ledger streams and the dead-letter queue's keys, which grow with jobs by design. */
async function keptByDesignMb(stack: ChaosStack): Promise<number> {
  const { redis, ledger, config } = stack;
  let bytes = 0;
  for (const key of [ledger.enqueuedKey, ledger.outcomesKey]) {
    bytes += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  }
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', queueKeys(config).deadLetterKeyPattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    for (const [, value] of (await pipeline.exec()) ?? []) bytes += Number(value ?? 0);
  } while (cursor !== '0');
  return bytes / 1024 / 1024;
}

const round = (mb: number) => Math.round(mb * 10) / 10;

/**
 * "Flat": after warm-up (the first third), the last third of the samples stays within 25% (plus
 * `slackMb`) of the middle third's peak. A leak proportional to jobs grows by ~1.7x between them.
 */
export function isFlat(samples: readonly number[], slackMb: number): { flat: boolean; detail: string } {
  if (samples.length < 6) return { flat: true, detail: `only ${samples.length} samples` };
  const third = Math.floor(samples.length / 3);
  const middle = Math.max(...samples.slice(third, 2 * third));
  const last = Math.max(...samples.slice(2 * third));
  return {
    flat: last <= middle * 1.25 + slackMb,
    detail: `peak ${middle.toFixed(1)} MB in the middle third, ${last.toFixed(1)} MB in the last`,
  };
}
