// Start-up steps every service shares: DynamoDB clients and the table, and the probes (placement
// watch and probe server).

import type { Registry } from 'prom-client';
import { createDynamoClients, type DynamoClients, withoutFaults } from '../dynamo/client.js';
import type { DynamoObserver } from '../dynamo/instrumentation.js';
import { describeTable, ensureTable } from '../dynamo/table.js';
import { allShardKeys } from '../lifecycle/keys.js';
import { LegacyLayoutError, SchemaTooOldError } from '../store/errors.js';
import { requireSchema } from '../store/migrate.js';
import { PlacementWatch } from './cluster-placement.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { type ProbeServerOptions, startProbeServer } from './probe-server.js';
import type { RedisConnection } from './redis.js';
import { retryTransient } from './retry.js';

export async function openDynamo(config: Config, logger: Logger, observe?: DynamoObserver): Promise<DynamoClients> {
  const clients = createDynamoClients(config, observe);
  // The start-up checks go without injected faults (FAULT_* exercise the jobs' retry paths, not the
  // table check: at 30% a check of a few calls failed all its tries about once in thirty starts).
  const setup = createDynamoClients(withoutFaults(config), observe);
  const where = config.AWS_ENDPOINT_URL_DYNAMODB ?? `AWS ${config.AWS_REGION}`;
  try {
    // One throttle or 5xx on the table check (say with DYNAMODB_MAX_ATTEMPTS=1) must not end the process.
    await retryTransient(async () => {
      if (config.CREATE_TABLES) await ensureTable(setup.client, config.DYNAMODB_TABLE_NAME);
      else await describeTable(setup.client, config.DYNAMODB_TABLE_NAME);
    });
    // A table of an earlier release: migrated when this process may change the table, else refused.
    const migrated = await requireSchema(setup, config.DYNAMODB_TABLE_NAME, {
      migrate: config.CREATE_TABLES,
      retentionDays: config.HISTORY_RETENTION_DAYS,
    });
    if (migrated)
      logger.info({ table: config.DYNAMODB_TABLE_NAME, ...migrated }, 'table migrated to the current schema');
  } catch (error) {
    clients.close();
    if (error instanceof SchemaTooOldError || error instanceof LegacyLayoutError) throw error;
    const name = (error as Error).name;
    const hint =
      name === 'ResourceNotFoundException'
        ? `table ${config.DYNAMODB_TABLE_NAME} does not exist: create it, or set CREATE_TABLES=true`
        : name === 'CredentialsProviderError'
          ? 'no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile'
          : `is DynamoDB reachable at ${where}? (AWS_ENDPOINT_URL_DYNAMODB)`;
    throw new Error(`DynamoDB start-up failed: ${(error as Error).message} — ${hint}`, { cause: error });
  } finally {
    setup.close();
  }
  logger.debug({ table: config.DYNAMODB_TABLE_NAME, endpoint: where }, 'DynamoDB table ready');
  return clients;
}

export interface ServiceProbesOptions {
  config: Config;
  logger: Logger;
  redis: RedisConnection;
  dynamo: DynamoClients;
  /** What /metrics serves; the placement gauge registers here too. */
  registry: Registry;
  /** The service's own readiness checks, beside Redis and the table. */
  checks?: ProbeServerOptions['readiness'];
}

export interface ServiceProbes {
  /** The probe server's port; null when METRICS_PORT=0 turns it off. */
  port: number | null;
  close(): void;
}

/**
 * Watches where the queue's shards live and starts the probe server on METRICS_PORT (none when 0):
 * /readyz asks Redis, the table and the service's own checks, and shows the placement beside.
 */
export async function startServiceProbes(options: ServiceProbesOptions): Promise<ServiceProbes> {
  const { config, logger, redis, dynamo, registry } = options;
  // On a cluster: which master serves each shard, warned about when two shards share one.
  const placement = new PlacementWatch({ redis, keys: allShardKeys(config), logger, registry });
  await placement.start();
  const probe =
    config.METRICS_PORT > 0
      ? await startProbeServer({
          port: config.METRICS_PORT,
          portHint: 'set METRICS_PORT to a free port, or 0 to turn the listener off',
          registry,
          readiness: {
            redis: () => redis.ping(),
            dynamodb: () => describeTable(dynamo.client, config.DYNAMODB_TABLE_NAME),
            ...options.checks,
          },
          detail: () => {
            const shards = placement.detail();
            return shards ? { placement: shards } : undefined;
          },
        })
      : undefined;
  return {
    port: probe?.port ?? null,
    close() {
      probe?.server.close();
      placement.close();
    },
  };
}
