// What every djq command needs: the configuration (the same environment variables as the services,
// or, with none set, the running `npm start` stack's; never real AWS unasked: see target.ts), and
// lazily opened Redis and DynamoDB clients.

import { userInfo } from 'node:os';
import pino from 'pino';
import { createDynamoClients, type DynamoClients, withoutFaults } from '../shared/dynamo/client.js';
import { describeTable } from '../shared/dynamo/table.js';
import { allShardKeys, queueKeys } from '../shared/lifecycle/keys.js';
import { readMinuteSeries } from '../shared/lifecycle/minute-series.js';
import { DlqActionStore } from '../shared/operator/dlq-actions.js';
import { OperatorConsole } from '../shared/operator/operator-console.js';
import { type Placement, readPlacement } from '../shared/runtime/cluster-placement.js';
import { type Config, loadConfig } from '../shared/runtime/config.js';
import type { RedisConnection } from '../shared/runtime/redis.js';
import { connectRedisFailFast, describeRedis, waitForRedis } from '../shared/runtime/redis.js';
import { createDynamoStores } from '../shared/store/index.js';
import { requireSchema } from '../shared/store/migrate.js';
import type { Stores } from '../shared/store/types.js';
import { openShardedSystem, type ShardedJobSystem } from '../shared/wiring.js';
import { readStackState } from './stack-state.js';
import { resolveTarget, type TargetRequest } from './target.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export class CliContext {
  readonly config: Config;
  readonly source: string;
  private redis?: RedisConnection;
  private dynamo?: DynamoClients;
  private systemCache?: ShardedJobSystem;

  /** True when DynamoDB is real AWS, which the operator asked for with --aws or DJQ_TARGET=aws. */
  readonly aws: boolean;

  constructor(env: NodeJS.ProcessEnv = process.env, request: TargetRequest = { aws: false }) {
    const target = resolveTarget(env, readStackState(), request);
    this.config = loadConfig(target.env);
    this.source = target.source;
    this.aws = target.aws;
  }

  /** Where the commands act, in one line: said on stderr before acting on AWS, and in --json. */
  get target(): { redis: string; dynamodb: string; table: string; source: string } {
    return {
      redis: describeRedis(this.config),
      dynamodb: this.config.AWS_ENDPOINT_URL_DYNAMODB ?? `AWS ${this.config.AWS_REGION}`,
      table: this.config.DYNAMODB_TABLE_NAME,
      source: this.source,
    };
  }

  /**
   * Redis and DynamoDB, wired as every service wires them, over every shard of the queue (one unless
   * QUEUE_SHARDS > 1); the CLI acts as `djq:<OS user>` in history, the ledger and the job
   * records' marks, so a redrive or purge names who ran it.
   */
  async system(): Promise<ShardedJobSystem> {
    if (!this.systemCache) {
      const stores = await this.stores();
      // Short reconnect delays: a pending one (up to 2 s by default) would hold the exit of a CLI
      // that is done, and Redis coming up during the wait below is found within 300 ms.
      // A deadline on every command: a Redis that stops answering (stopped, a stalled link) would
      // otherwise hold a bulk redrive mid-job for good, Ctrl-C included (it stops between jobs).
      this.redis = connectRedisFailFast(this.config, {
        retryStrategy: (times) => Math.min(times * 100, 300),
        commandTimeout: this.config.REDIS_COMMAND_TIMEOUT_MS,
      });
      this.redis.on('error', () => undefined);
      // A person waits for the answer: a Redis that is down is said within 2 s (a cluster gets longer).
      const timeoutMs = this.config.REDIS_CLUSTER_NODES ? 5000 : 2000;
      await waitForRedis(this.redis, this.config.REDIS_URL, timeoutMs).catch(() => {
        throw new Error(
          `cannot reach Redis at ${describeRedis(this.config)} (from ${this.source}; no answer within ${timeoutMs / 1000} s). Start the stack (npm start) or set REDIS_URL.`,
        );
      });
      // Errors reach the user through the command's own output; history write failures are said at close.
      const logger = pino({ level: 'silent' });
      this.systemCache = openShardedSystem({
        config: this.config,
        redis: this.redis,
        stores,
        logger,
        actor: cliActor(),
      });
    }
    return this.systemCache;
  }

  /** The operator console (search, timelines, safe DLQ actions) over every shard. */
  async operator(): Promise<OperatorConsole> {
    const system = await this.system();
    // Its search reads the job indexes: on a table without them, say what to run.
    await requireSchema(this.dynamoClients(), this.config.DYNAMODB_TABLE_NAME, {
      migrate: false,
      retentionDays: this.config.HISTORY_RETENTION_DAYS,
    });
    const { redis } = this;
    if (!redis) throw new Error('Redis is connected by system()');
    return new OperatorConsole({
      stores: system.stores,
      queues: system.shards.map((s) => s.queues),
      dlq: system.console,
      actions: new DlqActionStore(redis, queueKeys(this.config, 0)),
      activity: (minutes, now) => readMinuteSeries(redis, [queueKeys(this.config, 0)], minutes, now),
      historyRetentionDays: this.config.HISTORY_RETENTION_DAYS,
    });
  }

  /** The DynamoDB clients alone, without checking the table (what `djq migrate` needs). */
  dynamoClients(): DynamoClients {
    this.dynamo ??= createDynamoClients(withoutFaults(this.config));
    return this.dynamo;
  }

  /** On a Redis Cluster, the master serving each shard now (undefined on a single Redis). */
  async placement(): Promise<Placement | undefined> {
    await this.system();
    return this.redis ? readPlacement(this.redis, allShardKeys(this.config)) : undefined;
  }

  async stores(): Promise<Stores> {
    if (!this.dynamo) {
      // The CLI never injects faults, whatever FAULT_* the environment holds for the workers.
      this.dynamo = createDynamoClients(withoutFaults(this.config));
      await describeTable(this.dynamo.client, this.config.DYNAMODB_TABLE_NAME).catch((error: Error) => {
        throw new Error(
          `cannot read table ${this.config.DYNAMODB_TABLE_NAME} at ${this.config.AWS_ENDPOINT_URL_DYNAMODB ?? `AWS ${this.config.AWS_REGION}`} (from ${this.source}): ${error.message}`,
        );
      });
    }
    return createDynamoStores(this.dynamo, this.config);
  }

  async close(): Promise<void> {
    await this.systemCache?.close();
    this.redis?.disconnect();
    this.dynamo?.close();
  }
}

/** Who the CLI acts as: djq and the OS user running it (recorded with every redrive and purge). */
export function cliActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = 'unknown';
  }
  return `djq:${user}`;
}
