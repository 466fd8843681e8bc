// What a job costs Redis, the project beside raw BullMQ with the project's job options (attempts,
// backoff, retention; the same job ids, the same generated jobs), at the same offered rate: 200
// jobs/s, and saturation (everything offered at once, in bulks of 1000, five times the jobs). Each side's whole job
// counts: the enqueue (raw: addBulk; the project: the ledger's record with the previous tick's commit mark, addBulk) and
// the worker's part (fetch, lock, ack; the project's bookkeeping). Server side: INFO commandstats
// deltas (a command a Lua script runs counts under its own name; usec is Redis's time executing
// commands), so nothing else may use this redis-server meanwhile; client side: what this process
// sent (a script once, by name; a pipeline or MULTI block one round trip). Pairs alternate raw and
// project, so noise hits both alike; the project runs on in-memory stores (DynamoDB is not the
// subject here).
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { GeneratedJob } from '../../producer/generator.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { openJobSystem } from '../../shared/wiring.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { countRedisRequests } from '../redis-requests.js';
import { type CommandStat, readRedisStats, statsDelta } from '../redis-stats.js';
import { progress } from '../report.js';
import {
  type BenchServices,
  CONCURRENCY,
  devNullLogger,
  dropPrefix,
  medianPair,
  type Pairing,
  round,
  runConfig,
} from '../support.js';
import { benchGenerator, generate, seedUsers } from '../workload.js';

export type Load = 'rate' | 'saturation';

/** One side at one load: per job unless named otherwise. */
export interface CostRun {
  jobs: number;
  jobsPerSec: number;
  /**
   * µs Redis spent executing this side's commands (commandstats usec): the headline. Counted once:
   * a script's usec includes the commands it runs, which commandstats also counts under their names.
   */
  redisMicros: number;
  /** µs of Redis process CPU (INFO cpu, user + sys): with I/O and the event loop, noisier. */
  redisCpuMicros: number;
  serverCommands: number;
  requests: number;
  roundTrips: number;
  /** Run by Redis, by command name: calls and µs per job. */
  byCommand: Record<string, CommandStat>;
  /** Sent by the clients, by name (scripts by their names): per job. */
  requestsByName: Record<string, number>;
}

export interface CostPair {
  raw: CostRun;
  project: CostRun;
}

export interface RedisCostResult {
  /** Jobs a side at the offered rate (at saturation, SATURATION_JOBS_FACTOR times as many). */
  jobs: number;
  offeredPerSec: number;
  pairs: { rate: CostPair; saturation: CostPair }[];
  /** project ÷ raw Redis µs per job (target ≤ 1.5), median pair and range. */
  microsRatio: Record<Load, Pairing>;
  /** project ÷ raw Redis process CPU per job (INFO cpu): the same question, with I/O, less sensitive to preemption. */
  cpuRatio: Record<Load, Pairing>;
  /** project − raw round trips per job (target ≤ 1). */
  extraRoundTrips: Record<Load, Pairing>;
}

/** One tick's jobs every 10 ms at a rate; everything at once, 1000 a bulk, at saturation. */
const TICK_MS = 10;
const SATURATION_BULK = 1000;
/** Saturation drains 5× the jobs: at its rate a run of `jobs` lasts a second or two, too short to average out preemption. */
const SATURATION_JOBS_FACTOR = 5;

/** Offers `jobs` to `add` in ticks: `perTick` jobs every TICK_MS, or back to back when `paced` is false. */
async function offer(
  jobs: readonly GeneratedJob[],
  perTick: number,
  paced: boolean,
  add: (b: GeneratedJob[]) => Promise<unknown>,
) {
  const started = performance.now();
  for (let i = 0, tick = 0; i < jobs.length; i += perTick, tick++) {
    if (paced) await sleep(Math.max(0, started + tick * TICK_MS - performance.now()));
    await add(jobs.slice(i, i + perTick));
  }
}

/** Counts the Redis work of `run` (which resolves with the jobs' elapsed seconds) per job. */
async function measured(control: Redis, jobs: number, run: () => Promise<number>): Promise<CostRun> {
  const before = await readRedisStats(control);
  const counting = countRedisRequests();
  const seconds = await run();
  const sent = counting.stop();
  const delta = statsDelta(before, await readRedisStats(control));
  const perJob = (n: number) => round(n / jobs, 3);
  return {
    jobs,
    jobsPerSec: Math.round(jobs / seconds),
    redisMicros: round(topLevelMicros(delta.byCommand, sent.byName) / jobs, 1),
    redisCpuMicros: Math.round((delta.cpuSeconds * 1e6) / jobs),
    serverCommands: perJob(delta.calls),
    requests: perJob(sent.requests),
    roundTrips: perJob(sent.roundTrips),
    byCommand: Object.fromEntries(
      [...delta.byCommand]
        .sort((a, b) => b[1].calls - a[1].calls)
        .map(([name, s]) => [name, { calls: perJob(s.calls), usec: perJob(s.usec) }]),
    ),
    requestsByName: Object.fromEntries(
      [...sent.byName].sort((a, b) => b[1] - a[1]).map(([name, n]) => [name, perJob(n)]),
    ),
  };
}

/**
 * The µs of the commands clients sent, each counted once: every script call (EVALSHA/EVAL, whose usec
 * includes what the script ran) and the plain commands sent directly, at their command's mean µs per
 * call (commandstats cannot tell a direct XADD from one inside a script). EXEC's usec holds what it
 * ran, counted under those names.
 */
export function topLevelMicros(byCommand: Map<string, CommandStat>, sent: Map<string, number>): number {
  let micros = 0;
  for (const [name, s] of byCommand) {
    if (name === 'evalsha' || name === 'eval') micros += s.usec;
    else if (name !== 'exec') micros += (s.usec / s.calls) * Math.min(s.calls, sent.get(name) ?? 0);
  }
  return micros;
}

interface SideOptions {
  jobs: number;
  perSec: number;
  load: Load;
}

const perTickOf = (o: SideOptions) =>
  o.load === 'rate' ? Math.max(1, Math.round((o.perSec * TICK_MS) / 1000)) : SATURATION_BULK;

/** Offers the jobs as a side does (paced at the rate, or in bulk at saturation), measured until `finished`. */
function offerMeasured(
  control: Redis,
  o: SideOptions,
  jobs: readonly GeneratedJob[],
  finished: Promise<void>,
  add: (batch: GeneratedJob[]) => Promise<unknown>,
): Promise<CostRun> {
  return measured(control, o.jobs, async () => {
    const started = performance.now();
    await offer(jobs, perTickOf(o), o.load === 'rate', add);
    await finished;
    return (performance.now() - started) / 1000;
  });
}

/** A side's two connections, its producer's and its worker's (two processes in production); `close` also drops the run's keys. */
function sideConnections(services: BenchServices, control: Redis, prefix: string) {
  const producer = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const worker = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  return {
    producer,
    worker,
    async close() {
      await dropPrefix(control, prefix);
      producer.disconnect();
      worker.disconnect();
    },
  };
}

/** Raw BullMQ: a Queue adding the jobs with the project's options and ids, a no-op Worker at the same concurrency. */
async function rawSide(services: BenchServices, control: Redis, o: SideOptions): Promise<CostRun> {
  const { config } = runConfig(services, `cost-raw-${o.load}`);
  const redis = sideConnections(services, control, config.QUEUE_PREFIX);
  const queue = new Queue(config.QUEUE_NAME, { connection: redis.producer, prefix: config.QUEUE_PREFIX });
  const options = operationJobOptions(config);
  const jobs = generate(benchGenerator(config), o.jobs);
  let done = 0;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const worker = new Worker(config.QUEUE_NAME, async () => undefined, {
    connection: redis.worker,
    prefix: config.QUEUE_PREFIX,
    concurrency: CONCURRENCY,
  });
  const settle = () => {
    done += 1;
    if (done % 500 === 0) progress('redis cost', `raw ${o.load} ${done}/${o.jobs}`);
    if (done === o.jobs) finish();
  };
  worker.on('completed', settle);
  worker.on('failed', (job) => job && job.attemptsMade >= (job.opts.attempts ?? 1) && settle());
  try {
    await Promise.all([queue.waitUntilReady(), worker.waitUntilReady()]);
    return await offerMeasured(control, o, jobs, finished, (batch) =>
      queue.addBulk(batch.map((job) => ({ name: job.name, data: job.data, opts: { ...options, jobId: job.id } }))),
    );
  } finally {
    await worker.close();
    await queue.close();
    await redis.close();
  }
}

/** The project: its producer's enqueue (the job lifecycle) and one worker service, on in-memory stores. */
async function projectSide(services: BenchServices, control: Redis, o: SideOptions): Promise<CostRun> {
  const { config } = runConfig(services, `cost-project-${o.load}`);
  const stores = createMemoryStores();
  const seeded = await seedUsers(stores);
  const logger = devNullLogger();
  const redis = sideConnections(services, control, config.QUEUE_PREFIX);
  const producer = openJobSystem({ config, redis: redis.producer, stores, logger, actor: 'producer' });
  const service = startWorkerService({ config, stores, redis: redis.worker, logger, metrics: new WorkerMetrics() });
  const jobs = generate(benchGenerator(config, seeded), o.jobs);
  let done = 0;
  const finished = new Promise<void>((resolve) => {
    service.system.lifecycle.onTransition((t) => {
      if (t.type !== 'completed' && t.type !== 'dead-lettered' && t.type !== 'settled-completed') return;
      done += 1;
      if (done % 500 === 0) progress('redis cost', `project ${o.load} ${done}/${o.jobs}`);
      if (done === o.jobs) resolve();
    });
  });
  try {
    await Promise.all([
      producer.queues.operations.waitUntilReady(),
      ...service.shards.map((s) => s.worker.waitUntilReady()),
    ]);
    // Start-up's own calls (the first flow report, the sweep's first round) are over before counting.
    await Promise.all(service.shards.map((s) => Promise.all([s.flow.tick(), s.sweep.round()])));
    return await offerMeasured(control, o, jobs, finished, (batch) => producer.lifecycle.enqueue(batch));
  } finally {
    await service.close();
    await producer.close();
    await redis.close();
  }
}

export async function redisCost(
  services: BenchServices,
  options: { jobs: number; perSec: number; pairs: number },
): Promise<RedisCostResult> {
  const pairs: RedisCostResult['pairs'] = [];
  for (let i = 0; i < options.pairs; i++) {
    const pair = {} as RedisCostResult['pairs'][number];
    for (const load of ['rate', 'saturation'] as const) {
      const jobs = load === 'rate' ? options.jobs : options.jobs * SATURATION_JOBS_FACTOR;
      const side = { jobs, perSec: options.perSec, load };
      // Alternate which side goes first, so a drift over the run favours neither.
      const first = i % 2 === 0 ? 'raw' : 'project';
      const run = (which: 'raw' | 'project') =>
        which === 'raw' ? rawSide(services, services.control, side) : projectSide(services, services.control, side);
      const a = await run(first);
      const b = await run(first === 'raw' ? 'project' : 'raw');
      pair[load] = first === 'raw' ? { raw: a, project: b } : { raw: b, project: a };
    }
    pairs.push(pair);
  }
  const ratio = (load: Load, f: (p: CostPair) => number) => medianPair(pairs.map((p) => f(p[load])));
  return {
    jobs: options.jobs,
    offeredPerSec: options.perSec,
    pairs,
    microsRatio: {
      rate: ratio('rate', (p) => p.project.redisMicros / p.raw.redisMicros),
      saturation: ratio('saturation', (p) => p.project.redisMicros / p.raw.redisMicros),
    },
    cpuRatio: {
      rate: ratio('rate', (p) => p.project.redisCpuMicros / p.raw.redisCpuMicros),
      saturation: ratio('saturation', (p) => p.project.redisCpuMicros / p.raw.redisCpuMicros),
    },
    extraRoundTrips: {
      rate: ratio('rate', (p) => p.project.roundTrips - p.raw.roundTrips),
      saturation: ratio('saturation', (p) => p.project.roundTrips - p.raw.roundTrips),
    },
  };
}
