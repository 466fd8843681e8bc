// What every djq command needs: the configuration (the same environment variables as the services,
// or, with none set, the running `npm start` stack's), and lazily opened Redis and DynamoDB clients.
import type { Redis } from 'ioredis';
import { type Config, loadConfig } from '../shared/config.js';
import { DeadLetters } from '../shared/dead-letter.js';
import { createDynamoClients, type DynamoClients, withoutFaults } from '../shared/dynamo/client.js';
import { describeTable } from '../shared/dynamo/table.js';
import { Ledger } from '../shared/ledger.js';
import { openQueues, operationJobOptions, type Queues } from '../shared/queues.js';
import { connectRedisFailFast, redactUrl, waitForRedis } from '../shared/redis.js';
import { createDynamoStores } from '../shared/store/index.js';
import type { Stores } from '../shared/store/types.js';
import { readStackState } from '../stack/state.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export class CliContext {
  readonly config: Config;
  readonly source: string;
  private redis?: Redis;
  private dynamo?: DynamoClients;
  private queuesCache?: Queues;

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

  async queues(): Promise<Queues> {
    if (!this.queuesCache) {
      this.redis = connectRedisFailFast(this.config);
      this.redis.on('error', () => undefined);
      await waitForRedis(this.redis, this.config.REDIS_URL, 5000).catch(() => {
        throw new Error(
          `cannot reach Redis at ${redactUrl(this.config.REDIS_URL)} (from ${this.source}). Start the stack (npm start) or set REDIS_URL.`,
        );
      });
      this.queuesCache = openQueues(this.config, this.redis);
    }
    return this.queuesCache;
  }

  async ledger(): Promise<Ledger> {
    await this.queues();
    return new Ledger(
      this.redis as Redis,
      this.config.QUEUE_PREFIX,
      this.config.QUEUE_NAME,
      this.config.LEDGER_MAX_ENTRIES,
    );
  }

  async deadLetters(): Promise<DeadLetters> {
    return new DeadLetters({
      queues: await this.queues(),
      ledger: await this.ledger(),
      redriveOptions: operationJobOptions(this.config),
    });
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
    await this.queuesCache?.close();
    this.redis?.disconnect();
    this.dynamo?.close();
  }
}
