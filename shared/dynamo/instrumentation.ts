// Watches every DynamoDB call: latency, consumed capacity and throttles go to an observer (metrics),
// and they are also added to the current job's tally through AsyncLocalStorage, so the
// one-line-per-job log carries them as the seed's demo did, and flow control learns what each
// attempt met, without threading a counter through every call. Requests and throttles are counted
// per HTTP request (inside the SDK's retry loop): a throttle the SDK retried away is still the
// table saying "slower".
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { THROTTLING_ERRORS } from '../runtime/errors.js';

export interface CallTally {
  calls: number;
  capacityUnits: number;
  /** HTTP requests sent (SDK retries included). */
  requests: number;
  /** Requests DynamoDB answered with a throttling error (SDK retries included). */
  throttled: number;
  /**
   * Wall time with at least one of these calls outstanding, SDK retries and their backoff included
   * (ms): calls made at once (a batch's chunks) count once, so it never exceeds the elapsed time.
   */
  durationMs: number;
  /** Calls outstanding now, and since when: what durationMs is summed from. */
  outstanding: number;
  outstandingSince: number;
  /**
   * Told of each throttled request of these calls the moment it comes back, instead of the
   * process-wide listeners: a job's throttles are its own queue shard's signal, not every shard's.
   */
  onThrottled?: () => void;
}

export const emptyTally = (onThrottled?: () => void): CallTally => ({
  calls: 0,
  capacityUnits: 0,
  requests: 0,
  throttled: 0,
  durationMs: 0,
  outstanding: 0,
  outstandingSince: 0,
  ...(onThrottled ? { onThrottled } : {}),
});

export interface DynamoCall {
  command: string;
  durationMs: number;
  capacityUnits: number;
  table?: string;
  errorName?: string;
  /** Requests of this call DynamoDB throttled (the SDK may have retried them away). */
  throttledRequests: number;
}

export type DynamoObserver = (call: DynamoCall) => void;

const jobTally = new AsyncLocalStorage<CallTally>();

/**
 * Listeners told of each throttled request the moment it comes back (flow control): waiting for
 * the attempt to end would delay the signal by the SDK's throttling backoff, a second or more per
 * retry, while the fleet keeps pushing. Process-wide, for the requests of no job's tally (history
 * writes, sweeps): the table is shared by every queue shard.
 */
const throttleListeners = new Set<() => void>();

/** Calls `listener` on every throttled request of any client of this process outside a tally with
 * its own onThrottled; returns the unsubscribe. */
export function onThrottledRequest(listener: () => void): () => void {
  throttleListeners.add(listener);
  return () => throttleListeners.delete(listener);
}

/** Runs `fn`, adding the DynamoDB calls it makes to `tally` (which keeps them if `fn` throws). */
export function withCallTally<T>(tally: CallTally, fn: () => Promise<T>): Promise<T> {
  return jobTally.run(tally, fn);
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
/** Shared by the call's middlewares: the SDK hands each of them the same context object. */
type CallContext = { djqRequests?: number; djqThrottled?: number; djqOnThrottled?: () => void };

export function addInstrumentation(client: DynamoDBClient, observe?: DynamoObserver): void {
  addCallObserver(client, observe);
  // Inside the retry loop (finalizeRequest runs once per HTTP attempt), outside fault injection,
  // which is added after this and so runs inside it: injected throttles count as real ones.
  addRequestCounting(client);
}

/** Once per call, SDK retries included: its duration, capacity units, error, and the job's tally. */
function addCallObserver(client: DynamoDBClient, observe: DynamoObserver | undefined): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName ?? 'Unknown');
      const counts = context as CallContext;
      const input = args.input as Record<string, unknown>;
      if (CAPACITY_COMMANDS.has(command) && input.ReturnConsumedCapacity === undefined) {
        input.ReturnConsumedCapacity = 'TOTAL';
      }
      const started = performance.now();
      const tally = jobTally.getStore();
      if (tally) {
        tally.calls += 1;
        if (tally.outstanding++ === 0) tally.outstandingSince = started;
      }
      if (tally?.onThrottled) counts.djqOnThrottled = tally.onThrottled;
      const settle = (units: number, table: string | undefined, errorName?: string) => {
        const throttledRequests = counts.djqThrottled ?? 0;
        const ended = performance.now();
        const durationMs = ended - started;
        if (tally) {
          if (--tally.outstanding === 0) tally.durationMs += ended - tally.outstandingSince;
          tally.capacityUnits += units;
          tally.requests += counts.djqRequests ?? 0;
          tally.throttled += throttledRequests;
        }
        observe?.({
          command,
          durationMs,
          capacityUnits: units,
          table,
          throttledRequests,
          ...(errorName ? { errorName } : {}),
        });
      };
      try {
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: CapacityEntry | CapacityEntry[] }).ConsumedCapacity;
        const entries = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
        settle(
          entries.reduce((sum, e) => sum + (e.CapacityUnits ?? 0), 0),
          entries[0]?.TableName ?? (input.TableName as string | undefined),
        );
        return result;
      } catch (error) {
        settle(0, input.TableName as string | undefined, (error as Error).name);
        throw error;
      }
    },
    { step: 'initialize', priority: 'high', name: 'djqInstrumentation' },
  );
}

/** Once per HTTP attempt: requests sent and throttled, for the call's middleware above. */
function addRequestCounting(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const counts = context as CallContext;
      counts.djqRequests = (counts.djqRequests ?? 0) + 1;
      try {
        return await next(args);
      } catch (error) {
        if (THROTTLING_ERRORS.has((error as Error).name)) {
          counts.djqThrottled = (counts.djqThrottled ?? 0) + 1;
          if (counts.djqOnThrottled) counts.djqOnThrottled();
          else for (const listener of throttleListeners) listener();
        }
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'djqRequestCounting' },
  );
}
