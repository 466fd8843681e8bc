// The benchmark's own services and plumbing: a private redis-server and an out-of-process dynalite,
// one config per run (its own queue prefix and table), and helpers to wait for jobs to settle.
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pino from 'pino';
import { type DynaliteServer, type RedisServer, startDynalite, startRedisServer } from '../devtools/local-services.js';
import { createDynamoClients, withoutFaults } from '../shared/dynamo/client.js';
import { ensureTable } from '../shared/dynamo/table.js';
import { DecidedOutcomes } from '../shared/operator/decided-outcomes.js';
import { type Config, loadConfig } from '../shared/runtime/config.js';
import type { Logger } from '../shared/runtime/logger.js';
import { createDynamoStores } from '../shared/store/index.js';

/** Every measurement compares runs at this concurrency. */
export const CONCURRENCY = 50;

export interface BenchServices {
  redis: RedisServer;
  dynalite: DynaliteServer;
  /** A control connection: cleanup, INFO, polling the ledger. */
  control: Redis;
  stop(): Promise<void>;
}

export async function startBenchServices(options: { port?: number } = {}): Promise<BenchServices> {
  // dynalite accepts any credentials; the SDK only needs some to sign with.
  process.env.AWS_ACCESS_KEY_ID ??= 'bench';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
  const redis = await startRedisServer(options);
  const dynalite = await startDynalite();
  const control = new Redis(redis.url, { maxRetriesPerRequest: null });
  return {
    redis,
    dynalite,
    control,
    async stop() {
      control.disconnect();
      await dynalite.stop();
      await redis.stop();
      rmSync(redis.dir, { recursive: true, force: true });
    },
  };
}

let runCounter = 0;

/** A config of its own for one run: queue prefix and table are unique, so runs never see each other's jobs. */
export function runConfig(services: BenchServices, label: string, overrides: Record<string, string | number> = {}) {
  runCounter += 1;
  const id = `${label}-${runCounter}`;
  const env: Record<string, string> = {
    REDIS_URL: services.redis.url,
    AWS_ENDPOINT_URL_DYNAMODB: services.dynalite.endpoint,
    QUEUE_PREFIX: `bench-${id}`,
    QUEUE_NAME: 'ops',
    DYNAMODB_TABLE_NAME: `bench-${id}`,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    WORKER_ID: `bench-${id}`,
  };
  for (const [key, value] of Object.entries(overrides)) env[key] = String(value);
  return { config: loadConfig(env), env };
}

/** runConfig for a run that needs its table: created before it returns. */
export async function runConfigWithTable(
  services: BenchServices,
  label: string,
  overrides: Record<string, string | number> = {},
): Promise<ReturnType<typeof runConfig>> {
  const run = runConfig(services, label, overrides);
  await createTable(run.config);
  return run;
}

export async function createTable(config: Config): Promise<void> {
  const clients = createDynamoClients({ ...config, FAULT_LATENCY_MS: 0, FAULT_ERROR_RATE: 0, FAULT_THROTTLE_RATE: 0 });
  try {
    await ensureTable(clients.client, config.DYNAMODB_TABLE_NAME);
  } finally {
    clients.close();
  }
}

/** The worker's logger as production builds it, at info, writing to /dev/null (what a log shipper costs is not ours). */
export function devNullLogger(): Logger {
  return pino(
    {
      name: 'worker',
      level: 'info',
      base: { service: 'worker', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: '/dev/null', sync: true }),
  );
}

/** Removes a run's keys (never FLUSHALL: only this prefix, on the bench's own Redis). */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export interface Settled {
  count: number;
  /** Epoch ms of the last decision (its mark's time in the job's record). */
  lastAt: number;
}

/** Ids read per getMany (two BatchGetItems): small, as the polls share DynamoDB with the workers. */
const WATCH_BATCH = 100;

/**
 * The jobs a bench run added, and which of them DynamoDB has decided (their records: the same
 * reader as djq check). Each poll reads the oldest undecided jobs first, a batch at a time, and
 * reads on only while a whole batch was decided, so waiting costs little more than the jobs
 * finishing since the last poll.
 */
export class OutcomeWatch {
  private pending: string[] = [];
  private readonly decidedAt: number[] = [];

  constructor(private readonly decided: DecidedOutcomes) {}

  add(jobIds: Iterable<string>): this {
    for (const id of jobIds) this.pending.push(id);
    return this;
  }

  /** How many of the added jobs are decided (completed or dead-lettered) now. */
  async poll(): Promise<number> {
    for (;;) {
      const batch = this.pending.slice(0, WATCH_BATCH);
      if (batch.length === 0) break;
      const outcomes = await this.decided.of(batch);
      for (const d of outcomes.values()) this.decidedAt.push(d.at);
      this.pending = this.pending.filter((id) => !outcomes.has(id));
      if (outcomes.size < batch.length) break;
    }
    return this.decidedAt.length;
  }

  get done(): number {
    return this.decidedAt.length;
  }

  /** Decision times so far, oldest first (epoch ms). */
  times(): number[] {
    return [...this.decidedAt].sort((a, b) => a - b);
  }
}

/** An OutcomeWatch on the run's table in dynalite (for workers in child processes); close it after. */
export function watchTable(config: Config): OutcomeWatch & { close(): void } {
  const dynamo = createDynamoClients(withoutFaults(config));
  const watch = new OutcomeWatch(new DecidedOutcomes(createDynamoStores(dynamo, config).jobs));
  return Object.assign(watch, { close: () => dynamo.close() });
}

/** Waits until `count` of the watched jobs are decided in DynamoDB (before BullMQ acknowledges them). */
export async function waitForOutcomes(
  watch: OutcomeWatch,
  count: number,
  onProgress?: (done: number) => void,
  timeoutMs = 600_000,
): Promise<Settled> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await watch.poll();
    onProgress?.(done);
    if (done >= count) return { count: done, lastAt: watch.times().at(-1) ?? Date.now() };
    if (Date.now() > deadline) throw new Error(`only ${done} of ${count} jobs settled within ${timeoutMs} ms`);
    // The figures come from the decisions' own times, not from when a poll saw them.
    await sleep(100);
  }
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export const round = (value: number, digits = 2): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};

/** Seconds of CPU the Redis server has used so far (user + sys), from INFO cpu. */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/**
 * Steady-state rate from the decision times: jobs settled per second from the one at `skipShare` of
 * the run to the last, so start-up (JIT, connections) does not count.
 */
export function steadyRate(watch: OutcomeWatch, skipShare = 0.1): number {
  const times = watch.times();
  const from = Math.floor(times.length * skipShare);
  const seconds = ((times.at(-1) as number) - (times[from] as number)) / 1000;
  return (times.length - 1 - from) / seconds;
}

/** A comparison of two sides: the pair (round) whose ratio is the median, and the range over rounds. */
export interface Pairing {
  /** The round the figures come from: its ratio is the median of the rounds' ratios. */
  round: number;
  ratio: number;
  range: [number, number];
}

/** The round whose ratio is the median (the lower middle one for an even count), and the range. */
export function medianPair(ratios: readonly number[]): Pairing {
  const order = ratios.map((ratio, index) => ({ ratio, round: index })).sort((a, b) => a.ratio - b.ratio);
  const middle = order[Math.floor((order.length - 1) / 2)] as { ratio: number; round: number };
  return {
    round: middle.round,
    ratio: round(middle.ratio, 3),
    range: [round(order[0]?.ratio ?? Number.NaN, 3), round(order.at(-1)?.ratio ?? Number.NaN, 3)],
  };
}
