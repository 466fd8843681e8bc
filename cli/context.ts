// What every djq command needs: the configuration (the same environment variables as the services,
// or, with none set, the running `npm start` stack's), and lazily opened Redis and DynamoDB clients.

import pino from 'pino';
import { createDynamoClients, type DynamoClients, withoutFaults } from '../shared/dynamo/client.js';
import { describeTable } from '../shared/dynamo/table.js';
import { allShardKeys } from '../shared/lifecycle/keys.js';
import { type Placement, readPlacement } from '../shared/runtime/cluster-placement.js';
import { type Config, loadConfig } from '../shared/runtime/config.js';
import type { RedisConnection } from '../shared/runtime/redis.js';
import { connectRedisFailFast, describeRedis, waitForRedis } from '../shared/runtime/redis.js';
import { readStackState } from '../shared/runtime/stack-state.js';
import { createDynamoStores } from '../shared/store/index.js';
import type { Stores } from '../shared/store/types.js';
import { openShardedSystem, type ShardedJobSystem } from '../shared/wiring.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export class CliContext {
  readonly config: Config;
  readonly source: string;
  private redis?: RedisConnection;
  private dynamo?: DynamoClients;
  private systemCache?: ShardedJobSystem;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    const stack = env.REDIS_URL ? undefined : readStackState();
    if (stack) {
      // The SDK reads credentials from process.env itself: hand it the stack's (dummy, local) ones.
      for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const) {
        const value = stack.env[key];
        if (value !== undefined) env[key] ??= value;
      }
    }
    this.config = loadConfig(stack ? { ...env, ...stack.env } : env);
    this.source = stack ? `the npm start stack (pid ${stack.pid})` : 'the environment';
  }

  /**
   * Redis and DynamoDB, wired as every service wires them, over every shard of the queue (one unless
   * QUEUE_SHARDS > 1); the CLI acts as 'djq' in history and the ledger.
   */
  async system(): Promise<ShardedJobSystem> {
    if (!this.systemCache) {
      const stores = await this.stores();
      this.redis = connectRedisFailFast(this.config);
      this.redis.on('error', () => undefined);
      await waitForRedis(this.redis, this.config.REDIS_URL, 5000).catch(() => {
        throw new Error(
          `cannot reach Redis at ${describeRedis(this.config)} (from ${this.source}). Start the stack (npm start) or set REDIS_URL.`,
        );
      });
      // Errors reach the user through the command's own output; history write failures are said at close.
      const logger = pino({ level: 'silent' });
      this.systemCache = openShardedSystem({ config: this.config, redis: this.redis, stores, logger, actor: 'djq' });
    }
    return this.systemCache;
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
