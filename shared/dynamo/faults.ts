// Fault injection for demos and tests: dynalite never throttles, so FAULT_* make DynamoDB behave as
// a busy table does. It sits inside the SDK's retry loop, where real throttles and 5xx arrive, so
// the SDK retries first (DYNAMODB_MAX_ATTEMPTS) and the job retries what is left.

import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface FaultOptions {
  throttleRate: number;
  errorRate: number;
  latencyMs: number;
  random?: () => number;
}

/** An error shaped like the SDK's own service exceptions, so its retry strategy and ours classify it as real. */
export function injectedServiceError(name: string, status: number, message: string): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, attempts: 1, totalRetryDelay: 0 },
    injected: true,
  });
}

export function addFaultInjection(client: DynamoDBClient, options: FaultOptions): void {
  const { throttleRate, errorRate, latencyMs } = options;
  if (throttleRate === 0 && errorRate === 0 && latencyMs === 0) return;
  const random = options.random ?? Math.random;
  client.middlewareStack.add(
    (next) => async (args) => {
      if (latencyMs > 0) await sleep(latencyMs);
      const roll = random();
      if (roll < throttleRate) {
        throw injectedServiceError(
          'ThrottlingException',
          400,
          'Rate of requests exceeds the allowed throughput (injected)',
        );
      }
      if (roll < throttleRate + errorRate) {
        throw injectedServiceError('InternalServerError', 500, 'Internal server error (injected)');
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'djqFaultInjection' },
  );
}
