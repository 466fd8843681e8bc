// Start-up steps every service shares: DynamoDB clients and the table.

import { createDynamoClients, type DynamoClients } from '../dynamo/client.js';
import type { DynamoObserver } from '../dynamo/instrumentation.js';
import { describeTable, ensureTable } from '../dynamo/table.js';
import { LegacyLayoutError, SchemaTooOldError } from '../store/errors.js';
import { requireSchema } from '../store/migrate.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { retryTransient } from './retry.js';

export async function openDynamo(config: Config, logger: Logger, observe?: DynamoObserver): Promise<DynamoClients> {
  const clients = createDynamoClients(config, observe);
  const where = config.AWS_ENDPOINT_URL_DYNAMODB ?? `AWS ${config.AWS_REGION}`;
  try {
    // One throttle or 5xx on the table check (say with DYNAMODB_MAX_ATTEMPTS=1) must not end the process.
    await retryTransient(async () => {
      if (config.CREATE_TABLES) await ensureTable(clients.client, config.DYNAMODB_TABLE_NAME);
      else await describeTable(clients.client, config.DYNAMODB_TABLE_NAME);
    });
    // A table of an earlier release: migrated when this process may change the table, else refused.
    const migrated = await requireSchema(clients, config.DYNAMODB_TABLE_NAME, { migrate: config.CREATE_TABLES });
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
  }
  logger.debug({ table: config.DYNAMODB_TABLE_NAME, endpoint: where }, 'DynamoDB table ready');
  return clients;
}
