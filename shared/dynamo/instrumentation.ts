// Watches every DynamoDB call: latency, consumed capacity and throttles go to an observer (metrics),
// and the capacity is also added to the current job's tally through AsyncLocalStorage, so the
// one-line-per-job log carries it as the seed's demo did, without threading it through every call.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface CallTally {
  calls: number;
  capacityUnits: number;
}

export interface DynamoCall {
  command: string;
  durationMs: number;
  capacityUnits: number;
  table?: string;
  errorName?: string;
}

export type DynamoObserver = (call: DynamoCall) => void;

const jobTally = new AsyncLocalStorage<CallTally>();

/** Runs `fn` with a fresh tally of the DynamoDB calls it makes. */
export async function withCallTally<T>(fn: () => Promise<T>): Promise<{ value: T; tally: CallTally }> {
  const tally: CallTally = { calls: 0, capacityUnits: 0 };
  const value = await jobTally.run(tally, fn);
  return { value, tally };
}

const CAPACITY_COMMANDS = new Set([
  'PutItemCommand',
  'GetItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'QueryCommand',
  'ScanCommand',
  'BatchWriteItemCommand',
  'BatchGetItemCommand',
]);

type CapacityEntry = { TableName?: string; CapacityUnits?: number };

export function addInstrumentation(client: DynamoDBClient, observe?: DynamoObserver): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? 'Unknown');
      const input = args.input as Record<string, unknown>;
      if (CAPACITY_COMMANDS.has(command) && input.ReturnConsumedCapacity === undefined) {
        input.ReturnConsumedCapacity = 'TOTAL';
      }
      const started = performance.now();
      const tally = jobTally.getStore();
      if (tally) tally.calls += 1;
      try {
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: CapacityEntry | CapacityEntry[] }).ConsumedCapacity;
        const entries = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
        const units = entries.reduce((sum, e) => sum + (e.CapacityUnits ?? 0), 0);
        if (tally) tally.capacityUnits += units;
        observe?.({
          command,
          durationMs: performance.now() - started,
          capacityUnits: units,
          table: entries[0]?.TableName ?? (input.TableName as string | undefined),
        });
        return result;
      } catch (error) {
        observe?.({
          command,
          durationMs: performance.now() - started,
          capacityUnits: 0,
          table: input.TableName as string | undefined,
          errorName: (error as Error).name,
        });
        throw error;
      }
    },
    { step: 'initialize', priority: 'high', name: 'djqInstrumentation' },
  );
}
