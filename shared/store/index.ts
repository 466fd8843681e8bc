// Builds the stores for a config: DynamoDB in every service; the in-memory stores are for unit tests
// and the queue-overhead benchmark.

import type { DynamoClients } from '../dynamo/client.js';
import type { Config } from '../runtime/config.js';
import { DynamoEventStore } from './dynamo-event-store.js';
import { DynamoJobHistory } from './dynamo-job-history.js';
import { DynamoJobRecords } from './dynamo-job-records.js';
import { DynamoTableSize } from './dynamo-table-size.js';
import { DynamoUserProjection } from './dynamo-user-projection.js';
import type { Stores } from './types.js';

export function createDynamoStores(
  clients: DynamoClients,
  config: Pick<Config, 'DYNAMODB_TABLE_NAME' | 'HISTORY_RETENTION_DAYS'>,
): Stores {
  const table = config.DYNAMODB_TABLE_NAME;
  return {
    events: new DynamoEventStore(clients.doc, table),
    jobs: new DynamoJobRecords(clients.doc, table, config.HISTORY_RETENTION_DAYS),
    users: new DynamoUserProjection(clients.doc, table),
    history: new DynamoJobHistory(clients.doc, table, config.HISTORY_RETENTION_DAYS),
    table: new DynamoTableSize(clients.client, table),
  };
}
