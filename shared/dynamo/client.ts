// Builds the DynamoDB clients from config: explicit SDK retries, fault injection and instrumentation.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../runtime/config.js';
import { addFaultInjection } from './faults.js';
import { addInstrumentation, type DynamoObserver } from './instrumentation.js';

export interface DynamoClients {
  client: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  close(): void;
}

type DynamoConfig = Pick<
  Config,
  | 'AWS_REGION'
  | 'AWS_ENDPOINT_URL_DYNAMODB'
  | 'DYNAMODB_MAX_ATTEMPTS'
  | 'DYNAMODB_RETRY_MODE'
  | 'DYNAMODB_CONNECT_TIMEOUT_MS'
  | 'DYNAMODB_REQUEST_TIMEOUT_MS'
  | 'FAULT_THROTTLE_RATE'
  | 'FAULT_ERROR_RATE'
  | 'FAULT_LATENCY_MS'
>;

export function createDynamoClients(config: DynamoConfig, observe?: DynamoObserver): DynamoClients {
  const client = new DynamoDBClient({
    region: config.AWS_REGION,
    // The SDK reads AWS_ENDPOINT_URL_DYNAMODB by itself too; passing it keeps tests independent of process.env.
    ...(config.AWS_ENDPOINT_URL_DYNAMODB ? { endpoint: config.AWS_ENDPOINT_URL_DYNAMODB } : {}),
    // Set explicitly so behaviour does not change with the SDK's defaults between releases.
    maxAttempts: config.DYNAMODB_MAX_ATTEMPTS,
    retryMode: config.DYNAMODB_RETRY_MODE,
    // The SDK has no timeouts by default: an endpoint that accepts connections and never answers
    // would hold a job (and a shutdown) forever. A timed-out call is a retryable network error.
    requestHandler: {
      connectionTimeout: config.DYNAMODB_CONNECT_TIMEOUT_MS,
      requestTimeout: config.DYNAMODB_REQUEST_TIMEOUT_MS,
    },
  });
  addInstrumentation(client, observe);
  addFaultInjection(client, {
    throttleRate: config.FAULT_THROTTLE_RATE,
    errorRate: config.FAULT_ERROR_RATE,
    latencyMs: config.FAULT_LATENCY_MS,
  });
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
  });
  return { client, doc, close: () => client.destroy() };
}

/** The same settings with fault injection off: for the CLI, probes and checkers, whatever FAULT_* the workers get. */
export function withoutFaults<T extends DynamoConfig>(config: T): T {
  return { ...config, FAULT_THROTTLE_RATE: 0, FAULT_ERROR_RATE: 0, FAULT_LATENCY_MS: 0 };
}
