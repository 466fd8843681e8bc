// An update's cost against the length of its user's history: one user with 10 events and one with
// 10,000, updated in alternation in the same run (so noise hits both alike), each update timed and
// its DynamoDB read and write capacity units summed (ReturnConsumedCapacity, which dynalite returns).
// The target: the long stream's cost within 1.2 of the short one's.
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { foldUser, type UserEvent } from '../../shared/domain/user.js';
import { createDynamoClients, type DynamoClients } from '../../shared/dynamo/client.js';
import type { DynamoCall } from '../../shared/dynamo/instrumentation.js';
import { keys } from '../../shared/dynamo/table.js';
import { createDynamoStores } from '../../shared/store/index.js';
import type { Stores } from '../../shared/store/types.js';
import { UserCommands } from '../../worker/user-commands.js';
import { progress } from '../report.js';
import { type BenchServices, percentile, round, runConfigWithTable } from '../support.js';

export interface HistorySide {
  events: number;
  updates: number;
  /** Median ms per update (over `updates`, alternating with the other side). */
  msPerUpdate: number;
  readUnitsPerUpdate: number;
  writeUnitsPerUpdate: number;
  requestsPerUpdate: number;
}

export interface HistoryResult {
  short: HistorySide;
  long: HistorySide;
  latencyRatio: number;
  readUnitsRatio: number;
  /** The larger of the two ratios: what the target holds. */
  costRatio: number;
  /** A redelivery of the long user's second event, after all the rest: found applied, in ms and read units. */
  redelivery: { ms: number; readUnits: number; foundApplied: boolean };
}

const READS = new Set(['GetItemCommand', 'QueryCommand', 'BatchGetItemCommand', 'ScanCommand']);

/**
 * Stores a user with `count` events as the write path leaves it (events below the head's window
 * flagged linked, the head the fold of them all), written in batches: set-up, not measured, and
 * 10,000 updates one after another would take minutes. The unit tests build the same state through
 * the write path itself and check a redelivery against it.
 */
async function seedStream(dynamo: DynamoClients, stores: Stores, table: string, userId: string, count: number) {
  const at = new Date().toISOString();
  const events: UserEvent[] = [
    {
      type: 'UserCreated',
      userId,
      version: 1,
      jobId: `seed-${userId}-1`,
      at,
      data: { id: userId, name: 'Long History', email: 'long@example.com', age: 40, department: 'Engineering' },
    },
  ];
  for (let v = 2; v <= count; v++) {
    events.push({
      type: 'UserUpdated',
      userId,
      version: v,
      jobId: `seed-${userId}-${v}`,
      at,
      data: { age: 20 + (v % 60) },
    });
  }
  const head = foldUser(userId, events);
  if (!head) throw new Error('empty stream');
  const flaggedUpTo = head.version - head.recentJobs.length;
  const items = events.map((e) => ({
    pk: keys.userPk(userId),
    sk: keys.eventSk(e.jobId),
    ...e,
    ...(e.version <= flaggedUpTo ? { linked: true } : {}),
  }));
  for (let i = 0; i < items.length; i += 25 * 8) {
    await Promise.all(
      Array.from({ length: 8 }, (_, j) => items.slice(i + j * 25, i + (j + 1) * 25))
        .filter((chunk) => chunk.length > 0)
        .map(async (chunk) => {
          let pending: Record<string, unknown>[] = chunk.map((Item) => ({ PutRequest: { Item } }));
          while (pending.length > 0) {
            const out = await dynamo.doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
            pending = (out.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
          }
        }),
    );
    progress('history', `seeding ${Math.min(i + 200, items.length)}/${items.length} events`);
  }
  await stores.users.overwrite(userId, head);
  return head;
}

export async function history(
  services: BenchServices,
  options: { shortEvents: number; longEvents: number; updates: number },
): Promise<HistoryResult> {
  const { config } = await runConfigWithTable(services, 'history');
  // Every call's capacity goes to whichever side is being measured (one update at a time).
  let bucket: { reads: number; writes: number; requests: number } | undefined;
  const observe = (call: DynamoCall) => {
    if (!bucket) return;
    bucket.requests += 1;
    if (READS.has(call.command)) bucket.reads += call.capacityUnits;
    else bucket.writes += call.capacityUnits;
  };
  const dynamo = createDynamoClients(config, observe);
  const stores = createDynamoStores(dynamo, config);
  const commands = new UserCommands({ events: stores.events, users: stores.users });
  const users = { short: randomUUID(), long: randomUUID() };
  await seedStream(dynamo, stores, config.DYNAMODB_TABLE_NAME, users.short, options.shortEvents);
  await seedStream(dynamo, stores, config.DYNAMODB_TABLE_NAME, users.long, options.longEvents);

  const samples = { short: [] as number[], long: [] as number[] };
  const totals = {
    short: { reads: 0, writes: 0, requests: 0 },
    long: { reads: 0, writes: 0, requests: 0 },
  };
  // A few unmeasured updates first: connections, JIT.
  for (let i = 0; i < 5; i++) {
    await commands.update(randomUUID(), users.short, { age: 30 });
    await commands.update(randomUUID(), users.long, { age: 30 });
  }
  for (let i = 0; i < options.updates; i++) {
    for (const side of ['short', 'long'] as const) {
      bucket = totals[side];
      const started = performance.now();
      await commands.update(randomUUID(), users[side], { age: 20 + (i % 60) });
      samples[side].push(performance.now() - started);
      bucket = undefined;
    }
    if (i % 20 === 0) progress('history', `${i}/${options.updates} updates on each user`);
  }

  const redeliveryUnits = { reads: 0, writes: 0, requests: 0 };
  bucket = redeliveryUnits;
  const started = performance.now();
  const outcome = await commands.update(`seed-${users.long}-2`, users.long, { age: 22 });
  const redeliveryMs = performance.now() - started;
  bucket = undefined;
  dynamo.close();

  const side = (name: 'short' | 'long', events: number): HistorySide => ({
    events,
    updates: options.updates,
    msPerUpdate: round(
      percentile(
        [...samples[name]].sort((a, b) => a - b),
        50,
      ),
      3,
    ),
    readUnitsPerUpdate: round(totals[name].reads / options.updates, 3),
    writeUnitsPerUpdate: round(totals[name].writes / options.updates, 3),
    requestsPerUpdate: round(totals[name].requests / options.updates, 3),
  });
  const short = side('short', options.shortEvents);
  const long = side('long', options.longEvents);
  const latencyRatio = round(long.msPerUpdate / short.msPerUpdate, 3);
  const readUnitsRatio = round(long.readUnitsPerUpdate / short.readUnitsPerUpdate, 3);
  return {
    short,
    long,
    latencyRatio,
    readUnitsRatio,
    costRatio: Math.max(latencyRatio, readUnitsRatio),
    redelivery: { ms: round(redeliveryMs, 3), readUnits: redeliveryUnits.reads, foundApplied: !outcome.applied },
  };
}
