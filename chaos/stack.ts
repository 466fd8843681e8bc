// One scenario's own world: a redis-server (AOF, temp dir), or a Redis Cluster of 3 masters and 3
// replicas, and dynalite on free loopback ports (optionally behind a capacity limit), the
// producer and worker processes it starts, a log tally of what the workers went through, and the
// ledger checker reading the final state straight from Redis and DynamoDB.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { type CapacityBudget, type CapacityLimit, startCapacityLimit } from '../devtools/capacity-limit.js';
import {
  type DynaliteServer,
  type RedisClusterServer,
  type RedisSentinelGroup,
  type RedisServer,
  startDynalite,
  startRedisCluster,
  startRedisSentinelGroup,
  startRedisServer,
} from '../devtools/local-services.js';
import { createDynamoClients, type DynamoClients } from '../shared/dynamo/client.js';
import { ensureTable } from '../shared/dynamo/table.js';
import type { Ledger } from '../shared/lifecycle/ledger.js';
import type { Queues } from '../shared/lifecycle/queues.js';
import { type CheckReport, checkShards } from '../shared/operator/check.js';
import { DecidedOutcomes } from '../shared/operator/decided-outcomes.js';
import { type Config, loadConfig } from '../shared/runtime/config.js';
import type { RedisConnection } from '../shared/runtime/redis.js';
import { connectRedis } from '../shared/runtime/redis.js';
import { createDynamoStores } from '../shared/store/index.js';
import type { JobOutcome, Stores } from '../shared/store/types.js';
import { type JobSystem, openShardedSystem, type ShardedJobSystem } from '../shared/wiring.js';
import { isRunning, removeDir, type Service, startService, stopService, track, trackDir } from './processes.js';
import { RedisEndpoint } from './redis-endpoint.js';

export type EnvOverrides = Record<string, string | number | boolean>;

/** How a sentinel stack's primary, replica and 3 sentinels are started. */
export interface SentinelStackOptions {
  /** Sentinel's down-after-milliseconds: how long a dead primary goes unnoticed. @default 1000 */
  downAfterMs?: number;
  /** Ports for the servers and sentinels. @default any free ports */
  portRange?: [number, number];
}

/** How a cluster stack's Redis Cluster is started. */
export interface ClusterStackOptions {
  /** cluster-node-timeout: how long a dead master goes unnoticed. @default 1000 */
  nodeTimeoutMs?: number;
  /** Ports for the nodes. @default any free ports */
  portRange?: [number, number];
}

/** What the workers' own logs say they went through (warn level and up), counted as lines arrive. */
export interface LogTally {
  /** Failed attempts that will be retried, by error class. */
  retries: Record<string, number>;
  /** Jobs failed for good (then dead-lettered or settled), by error class. */
  failedForGood: Record<string, number>;
  /** "job stalled" warnings: a job whose lock was lost and that will run again. */
  stalled: number;
}

const CHAOS_DEFAULTS: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'chaos',
  AWS_SECRET_ACCESS_KEY: 'chaos',
  QUEUE_PREFIX: 'chaos',
  QUEUE_NAME: 'ops',
  LOG_LEVEL: 'warn',
  LOG_FORMAT: 'json',
  METRICS_PORT: '0',
  JOB_BACKOFF_MS: '50',
  DLQ_SWEEP_INTERVAL_MS: '1000',
  HISTORY_FLUSH_MS: '250',
  SHUTDOWN_TIMEOUT_MS: '10000',
};

let progress: ((line: string) => void) | undefined;

/** Where progress lines go while a scenario waits (the runner prints them to stderr; tests stay quiet). */
export function onProgress(print: ((line: string) => void) | undefined): void {
  progress = print;
}

export class ChaosStack {
  readonly workers: Service[] = [];
  readonly services: Service[] = [];
  readonly tally: LogTally = { retries: {}, failedForGood: {}, stalled: 0 };
  private workerCount = 0;
  private stopped = false;
  private decidedReader: DecidedOutcomes | undefined;

  private constructor(
    readonly name: string,
    readonly dir: string,
    /** The single redis-server; undefined on a cluster stack. */
    public redisServer: RedisServer | undefined,
    /** The Redis Cluster of a cluster stack (QUEUE_SHARDS shards spread over its masters). */
    readonly cluster: RedisClusterServer | undefined,
    /** The primary, replica and sentinels of a sentinel stack. */
    readonly sentinel: RedisSentinelGroup | undefined,
    readonly dynalite: DynaliteServer,
    /**
     * The capacity-limited endpoint in front of dynalite that the processes under test use, when the
     * stack was started with a capacity budget; the harness itself always talks to dynalite directly.
     */
    readonly capacityLimit: CapacityLimit | undefined,
    /** Every started process's environment (its DynamoDB endpoint is the capacity limit's, when on). */
    readonly env: Record<string, string>,
    /** The harness's own settings: the same as `env`, except DynamoDB is dynalite itself. */
    readonly config: Config,
    /** The harness's own connection: waits out a Redis restart instead of failing. */
    readonly redis: RedisConnection,
    readonly dynamo: DynamoClients,
    /** The same wiring as every service (acting as 'chaos' when a scenario redrives or purges), every shard. */
    readonly sharded: ShardedJobSystem,
    /** Where every process reaches the single redis-server, when started with `redisEndpoint`. */
    readonly redisEndpoint: RedisEndpoint | undefined,
  ) {}

  /** Shard 0 (the only one unless QUEUE_SHARDS > 1). */
  get system(): JobSystem {
    return this.sharded.shards[0] as JobSystem;
  }

  get stores(): Stores {
    return this.system.stores;
  }

  get queues(): Queues {
    return this.system.queues;
  }

  get ledger(): Ledger {
    return this.system.ledger;
  }

  /**
   * Starts Redis and dynalite for one scenario; `overrides` go into every process's environment.
   * With `capacity`, workers and producers reach dynalite through a capacity limit of that budget,
   * running in this process; the checker never goes through it, so it is never throttled.
   */
  static async start(
    name: string,
    overrides: EnvOverrides = {},
    options: {
      cluster?: boolean;
      clusterOptions?: ClusterStackOptions;
      /** Set: a primary, a replica and 3 sentinels instead of one redis-server. */
      sentinel?: SentinelStackOptions;
      capacity?: CapacityBudget;
      /**
       * Set (single redis-server only): every process reaches Redis through a RedisEndpoint, which
       * `adoptRedisServer` points at another server (a promoted replica).
       */
      redisEndpoint?: boolean;
    } = {},
  ): Promise<ChaosStack> {
    if (options.capacity && overrides.AWS_ENDPOINT_URL_DYNAMODB !== undefined) {
      throw new Error('a capacity budget puts its own endpoint in front of dynalite: drop AWS_ENDPOINT_URL_DYNAMODB');
    }
    // The harness's own SDK client needs some credentials; dynalite accepts any.
    process.env.AWS_ACCESS_KEY_ID ??= 'chaos';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'chaos';
    const dir = mkdtempSync(join(tmpdir(), `djq-chaos-${name}-`));
    trackDir(dir);
    let redisServer: RedisServer | undefined;
    let cluster: RedisClusterServer | undefined;
    let sentinel: RedisSentinelGroup | undefined;
    let dynalite: DynaliteServer | undefined;
    let capacityLimit: CapacityLimit | undefined;
    let endpoint: RedisEndpoint | undefined;
    try {
      if (options.cluster) {
        cluster = await startRedisCluster({ dir, ...options.clusterOptions });
        for (const node of cluster.servers) track(node.process);
      } else if (options.sentinel) {
        sentinel = await startRedisSentinelGroup(options.sentinel);
        for (const p of [sentinel.primary, sentinel.replica, ...sentinel.sentinelProcesses]) track(p.process);
      } else {
        redisServer = await startRedisServer({ dir });
        track(redisServer.process);
        if (options.redisEndpoint) endpoint = await RedisEndpoint.start(redisServer.port);
      }
      dynalite = await startDynalite();
      track(dynalite.process);
      if (options.capacity) capacityLimit = await startCapacityLimit(dynalite.endpoint, options.capacity);
      return await ChaosStack.connect(
        { name, dir, redisServer, cluster, sentinel, dynalite, capacityLimit, endpoint },
        overrides,
      );
    } catch (error) {
      await endpoint?.close();
      await capacityLimit?.close();
      await dynalite?.stop();
      await redisServer?.stop();
      await cluster?.stop();
      await sentinel?.stop();
      removeDir(dir);
      throw error;
    }
  }

  private static async connect(
    started: {
      name: string;
      dir: string;
      redisServer: RedisServer | undefined;
      cluster: RedisClusterServer | undefined;
      sentinel: RedisSentinelGroup | undefined;
      dynalite: DynaliteServer;
      capacityLimit: CapacityLimit | undefined;
      endpoint: RedisEndpoint | undefined;
    },
    overrides: EnvOverrides,
  ): Promise<ChaosStack> {
    const { name, dir, redisServer, cluster, sentinel, dynalite, capacityLimit, endpoint } = started;
    const env: Record<string, string> = {
      ...CHAOS_DEFAULTS,
      // On a cluster REDIS_URL gives only the scheme and credentials; the nodes are the seeds.
      // With sentinels likewise: they name the master.
      REDIS_URL: endpoint?.url ?? redisServer?.url ?? `redis://${cluster?.nodes.split(',')[0] ?? '127.0.0.1'}`,
      ...(cluster ? { REDIS_CLUSTER_NODES: cluster.nodes } : {}),
      ...(sentinel ? { REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_NAME: sentinel.name } : {}),
      AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
      DYNAMODB_TABLE_NAME: `chaos-${name}`,
    };
    for (const [k, v] of Object.entries(overrides)) env[k] = String(v);
    const config = loadConfig(env);
    if (capacityLimit) env.AWS_ENDPOINT_URL_DYNAMODB = capacityLimit.endpoint;
    // The harness reads the tables fault-free, whatever FAULT_* the processes under test get.
    const dynamo = createDynamoClients({ ...config, FAULT_THROTTLE_RATE: 0, FAULT_ERROR_RATE: 0, FAULT_LATENCY_MS: 0 });
    try {
      // Created here, before any process starts, so no service depends on winning the creation race.
      await ensureTable(dynamo.client, config.DYNAMODB_TABLE_NAME);
    } catch (error) {
      dynamo.close();
      throw error;
    }
    const redis = connectRedis(config);
    redis.on('error', () => undefined); // expected while a scenario restarts Redis
    const sharded = openShardedSystem({
      config,
      redis,
      stores: createDynamoStores(dynamo, config),
      logger: pino({ level: 'silent' }),
      actor: 'chaos',
    });
    for (const { queues } of sharded.shards) {
      queues.operations.on('error', () => undefined);
      queues.deadLetter.on('error', () => undefined);
    }
    return new ChaosStack(
      name,
      dir,
      redisServer,
      cluster,
      sentinel,
      dynalite,
      capacityLimit,
      env,
      config,
      redis,
      dynamo,
      sharded,
      endpoint,
    );
  }

  startWorker(overrides: EnvOverrides = {}): Service {
    const id = `w${++this.workerCount}`;
    const service = this.startProcess('worker/main.ts', { WORKER_ID: id, ...overrides });
    service.name = id;
    this.workers.push(service);
    void service.exited.then(() => {
      const i = this.workers.indexOf(service);
      if (i >= 0) this.workers.splice(i, 1);
    });
    return service;
  }

  startProducer(overrides: EnvOverrides = {}): Service {
    const service = this.startProcess('producer/main.ts', overrides);
    service.name = 'producer';
    return service;
  }

  /** Any repo entry point with this stack's environment (plus overrides). */
  startProcess(file: string, overrides: EnvOverrides = {}): Service {
    const env = { ...this.env };
    for (const [k, v] of Object.entries(overrides)) env[k] = String(v);
    const service = startService(file, env);
    service.onLine((line) => this.count(line));
    this.services.push(service);
    return service;
  }

  /**
   * `djq <args>` (the operator's CLI, cli/djq.ts through tsx as every child runs) with this stack's
   * environment: a process a scenario can pause or kill like a worker. Its output is not tallied.
   */
  startDjq(args: readonly string[], overrides: EnvOverrides = {}): Service {
    const env = { ...this.env };
    for (const [k, v] of Object.entries(overrides)) env[k] = String(v);
    const service = startService('cli/djq.ts', env, [...args]);
    service.name = `djq ${args.join(' ')}`;
    this.services.push(service);
    return service;
  }

  /** Live workers (not killed, not exited). */
  liveWorkers(): Service[] {
    return this.workers.filter((w) => isRunning(w.process));
  }

  /** Workers registered with Redis as consumers of the queue (BullMQ names their connections). */
  async consumingWorkerIds(): Promise<Set<string>> {
    const clients = (await Promise.all(this.sharded.shards.map((s) => s.queues.operations.getWorkers()))).flat() as {
      name?: string;
      rawname?: string;
    }[];
    const ids = new Set<string>();
    for (const c of clients) {
      const name = c.rawname?.split(':w:')[1] ?? c.name;
      if (name) ids.add(name);
    }
    return ids;
  }

  /** Stops Redis (SIGTERM: it writes its AOF out), waits, and starts it again on the same dir and port. */
  async restartRedis(downMs: number): Promise<void> {
    if (!this.redisServer) throw new Error('restartRedis needs a single redis-server stack, not a cluster');
    await this.redisServer.stop('SIGTERM');
    await sleep(downMs);
    this.redisServer = await startRedisServer({ dir: this.redisServer.dir, port: this.redisServer.port });
    track(this.redisServer.process);
  }

  /**
   * Replaces Redis with a new, empty redis-server on the same port (what a host that lost its disk,
   * or a restart without persistence, leaves): every key is gone, the clients reconnect to it.
   */
  async replaceRedisWithEmpty(): Promise<void> {
    if (!this.redisServer) throw new Error('replaceRedisWithEmpty needs a single redis-server stack, not a cluster');
    const { port } = this.redisServer;
    await this.redisServer.stop('SIGKILL');
    this.redisServer = await startRedisServer({ port });
    track(this.redisServer.process);
  }

  /**
   * Makes `server` (a promoted replica) the stack's Redis: the endpoint every process uses now
   * leads to it, and the stack stops it at the end. Needs a stack started with `redisEndpoint`.
   */
  adoptRedisServer(server: RedisServer): void {
    if (!this.redisEndpoint) throw new Error('adoptRedisServer needs a stack started with redisEndpoint');
    track(server.process);
    this.redisServer = server;
    this.redisEndpoint.switchTo(server.port);
  }

  /** Jobs not finished yet: waiting, active, delayed, retrying or on their way to the DLQ. */
  async unfinished(): Promise<number> {
    let total = 0;
    for (const { queues } of this.sharded.shards) {
      const c = await queues.operations.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'prioritized',
        'waiting-children',
        'failed',
      );
      total += Object.values(c).reduce((a, b) => a + b, 0);
    }
    return total;
  }

  /** Where scenarios read what DynamoDB decided (one reader: it keeps final outcomes). */
  get decided(): DecidedOutcomes {
    this.decidedReader ??= new DecidedOutcomes(this.stores.jobs);
    return this.decidedReader;
  }

  /** The outcome standing now for every job in the ledgers that has one, every shard (or `shard`'s). */
  async outcomes(shard?: number): Promise<Map<string, JobOutcome>> {
    const outcomes = new Map<string, JobOutcome>();
    const shards = this.sharded.shards.filter((s) => shard === undefined || s.keys.shard === shard);
    for (const { ledger } of shards) {
      for (const [id, d] of await this.decided.of((await ledger.readEnqueued()).keys())) outcomes.set(id, d.outcome);
    }
    return outcomes;
  }

  /** Jobs in the ledgers decided so far (completed, dead-lettered or purged), every shard (or `shard`'s). */
  async finished(shard?: number): Promise<number> {
    return (await this.outcomes(shard)).size;
  }

  /** Jobs in the ledgers, every shard (a job recorded twice counts once). */
  async enqueuedCount(): Promise<number> {
    let total = 0;
    for (const { ledger } of this.sharded.shards) total += (await ledger.readEnqueued()).size;
    return total;
  }

  /**
   * Waits until the producer (if given) has exited 0 and nothing is left unfinished in the queue,
   * seen twice in a row (a stalled job sits in `active` until a stalled check moves it back).
   */
  async waitDrained(options: { producer?: Service; timeoutMs: number; expectedEnqueued?: number }): Promise<boolean> {
    const deadline = Date.now() + options.timeoutMs;
    let quietRounds = 0;
    let lastReport = Date.now();
    while (Date.now() < deadline) {
      if (progress && Date.now() - lastReport > 5000) {
        lastReport = Date.now();
        const finished = await this.finished();
        progress(
          `[${this.name}] finished ${finished}, unfinished ${await this.unfinished()}, workers ${this.liveWorkers().length}`,
        );
      }
      const producerDone = !options.producer || options.producer.process.exitCode === 0;
      if (options.producer && !producerDone && !isRunning(options.producer.process)) return false;
      if (producerDone && (await this.unfinished()) === 0) {
        if (++quietRounds >= 2) {
          if (options.expectedEnqueued === undefined) return true;
          if ((await this.enqueuedCount()) >= options.expectedEnqueued) return true;
        }
      } else quietRounds = 0;
      await sleep(500);
    }
    return false;
  }

  async check(faults: Record<string, unknown> = {}): Promise<CheckReport> {
    return checkShards({ shards: this.sharded.shards, stores: this.stores, faults });
  }

  /** Redis INFO memory used_memory, in MB. */
  async redisUsedMemoryMb(): Promise<number> {
    const info = await this.redis.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 1024 / 1024;
  }

  /** Stops everything this stack started: workers drain on SIGTERM, stragglers are killed. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const running = this.services.filter((s) => isRunning(s.process));
    await Promise.all(
      running.map(async (s) => {
        s.process.kill('SIGTERM');
        const done = await Promise.race([s.exited.then(() => true), sleep(15_000).then(() => false)]);
        if (!done) await stopService(s, 'SIGKILL');
      }),
    );
    await this.sharded.close().catch(() => undefined);
    this.redis.disconnect();
    this.dynamo.close();
    await this.redisEndpoint?.close();
    await this.capacityLimit?.close();
    await this.dynalite.stop();
    await this.redisServer?.stop();
    await this.cluster?.stop();
    await this.sentinel?.stop();
    removeDir(this.dir);
  }

  private count(line: string): void {
    if (!line.startsWith('{')) return;
    if (!line.includes('"errorClass"') && !line.includes('stalled')) return;
    let entry: { msg?: string; errorClass?: string };
    try {
      entry = JSON.parse(line) as { msg?: string; errorClass?: string };
    } catch {
      return;
    }
    const msg = entry.msg ?? '';
    const cls = entry.errorClass ?? 'unknown';
    if (msg.includes('will retry')) this.tally.retries[cls] = (this.tally.retries[cls] ?? 0) + 1;
    else if (msg.includes('failed for good')) this.tally.failedForGood[cls] = (this.tally.failedForGood[cls] ?? 0) + 1;
    else if (msg.startsWith('job stalled')) this.tally.stalled++;
  }
}

export function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Runs `fn` every `ms` until stopped; one run at a time. */
export function every(ms: number, fn: () => Promise<void>): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await sleep(ms);
      if (!stopped) await fn();
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** Producer settings that spread `jobs` over about `seconds` (ticks of 100 ms). */
export function pace(jobs: number, seconds: number): EnvOverrides {
  return {
    MAX_OPERATIONS: jobs,
    OPERATION_INTERVAL_MS: 100,
    OPERATIONS_PER_TICK: Math.max(1, Math.ceil(jobs / (seconds * 10))),
  };
}
