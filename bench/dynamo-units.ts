// Every DynamoDB call of a bench run, by the item it touches (acceptance, decision, event, head,
// history, query) and by read or write: requests, and the capacity units dynalite reports
// (ReturnConsumedCapacity, which it computes from item sizes as DynamoDB does, for the base table
// only). Two things dynalite does not charge are counted beside them, never mixed in: writes that
// failed their condition (DynamoDB charges them at least one write unit, dynalite none), and the
// index write units DynamoDB adds for each index entry an item's write puts, changes or removes
// (estimated from the items written; see indexWriteUnitsOf).
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { keys } from '../shared/dynamo/table.js';

export const ITEM_KINDS = ['acceptance', 'decision', 'event', 'head', 'history', 'query', 'other'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

export interface KindTally {
  requests: number;
  readRequests: number;
  writeRequests: number;
  /** As dynalite reports them: base table, by item size, nothing for a failed call. */
  readUnits: number;
  writeUnits: number;
  /** Writes refused by their condition (ConditionalCheckFailed): ≥ 1 write unit each on DynamoDB. */
  failedConditions: number;
  /** Index write units DynamoDB would charge on top (estimated from the items written). */
  indexWriteUnits: number;
}

/** Per job: each figure of a KindTally ÷ jobs, in all and by kind. */
export type UnitsPerJob = KindTally & { byKind: Partial<Record<ItemKind, KindTally>> };

const READS = new Set(['GetItemCommand', 'QueryCommand', 'BatchGetItemCommand', 'ScanCommand']);

/** A tally with nothing counted yet. */
export const emptyTally = (): KindTally => ({
  requests: 0,
  readRequests: 0,
  writeRequests: 0,
  readUnits: 0,
  writeUnits: 0,
  failedConditions: 0,
  indexWriteUnits: 0,
});

const TALLY_KEYS = Object.keys(emptyTally()) as (keyof KindTally)[];

type Item = Record<string, unknown>;
type CapacityEntry = { CapacityUnits?: number };

/** A string attribute as the document client passes it (native) or the plain client does ({S}). */
const text = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : (value as { S?: string } | undefined)?.S;

function kindOfKey(item: Item | undefined): ItemKind {
  const pk = text(item?.pk) ?? '';
  const sk = text(item?.sk) ?? '';
  if (pk.startsWith(keys.jobPk(''))) {
    if (sk === keys.outcomeSk) return 'decision';
    if (sk.startsWith(keys.historyPrefix)) return 'history';
    return 'acceptance'; // ACCEPTED, and TOUCHES#<user> for each further user of a batch
  }
  if (pk.startsWith(keys.userPk(''))) return sk === keys.stateSk ? 'head' : 'event';
  return 'other';
}

/** The first item or key a call names: every call the project makes touches one kind of item. */
function firstItem(command: string, input: Item): Item | undefined {
  if (input.Key) return input.Key as Item;
  if (input.Item) return input.Item as Item;
  const requests = Object.values((input.RequestItems ?? {}) as Record<string, unknown>)[0];
  if (command === 'BatchWriteItemCommand') {
    const first = (requests as { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[] | undefined)?.[0];
    return first?.PutRequest?.Item ?? first?.DeleteRequest?.Key;
  }
  return (requests as { Keys?: Item[] } | undefined)?.Keys?.[0];
}

export function kindOf(command: string, input: Item): ItemKind {
  if (command === 'QueryCommand') {
    if (input.IndexName) return 'query';
    const pk = text((input.ExpressionAttributeValues as Item | undefined)?.[':pk']) ?? '';
    return kindOfKey({ pk, sk: pk.startsWith(keys.jobPk('')) ? keys.historyPrefix : '' });
  }
  return kindOfKey(firstItem(command, input));
}

/**
 * An item's size by DynamoDB's rule, closely enough for whole kilobytes: attribute names and
 * values in UTF-8 bytes, numbers about one byte per two digits, containers 3 bytes and one per element.
 */
function sizeOf(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') return Math.ceil(String(value).replace(/[-.]/g, '').length / 2) + 1;
  if (typeof value === 'boolean' || value === null || value === undefined) return 1;
  if (value instanceof Set) return [...value].reduce((sum: number, v) => sum + sizeOf(v), 0);
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + 1 + sizeOf(v), 3);
  return 3 + itemBytes(value as Item);
}

function itemBytes(item: Item): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + 1 + sizeOf(value), 0);
}

/**
 * Index write units of writing `item` whole (PutItem, a batch's PutRequest): one per keys-only
 * entry of the job indexes (gsi2, gsi3, gsi4: keys and 100 bytes, always under 1 KB), and the item's
 * size in KB for the department index (gsi1 projects every attribute). A tombstone head (a
 * deleted user, out of the department index) removes the live user's entry: one unit. A lower
 * bound: an index key that changes (a user's department) costs a removal more, unseen here.
 */
function putIndexUnits(item: Item): number {
  let units = 0;
  if (item.gsi2pk !== undefined) units += 1;
  if (item.gsi3pk !== undefined) units += 1;
  if (item.gsi4pk !== undefined) units += 1;
  if (item.gsi1pk !== undefined) units += Math.max(1, Math.ceil(itemBytes(item) / 1024));
  else if (kindOfKey(item) === 'head' && item.deleted === true) units += 1;
  return units;
}

/** The same for an UpdateItem: each job-index key it sets or removes is one entry written or removed. */
function updateIndexUnits(input: Item): number {
  const expression = String(input.UpdateExpression ?? '');
  const indexKeys = expression.match(/gsi\dpk/g)?.length ?? 0;
  // A head's bar or unbar changes an attribute the department index projects: its entry is rewritten.
  const head = kindOfKey(input.Key as Item) === 'head' ? 1 : 0;
  return indexKeys + head;
}

export function indexWriteUnitsOf(command: string, input: Item): number {
  if (command === 'PutItemCommand') return putIndexUnits(input.Item as Item);
  if (command === 'UpdateItemCommand') return updateIndexUnits(input);
  if (command !== 'BatchWriteItemCommand') return 0;
  const requests = Object.values((input.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: Item } }[]>);
  return requests.flat().reduce((sum, r) => sum + (r.PutRequest ? putIndexUnits(r.PutRequest.Item) : 0), 0);
}

const consumedUnits = (output: unknown): number => {
  const consumed = (output as { ConsumedCapacity?: CapacityEntry | CapacityEntry[] } | undefined)?.ConsumedCapacity;
  const entries = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
  return entries.reduce((sum, e) => sum + (e.CapacityUnits ?? 0), 0);
};

/** Tallies the calls of the clients it is attached to, by kind of item, until reset. */
export class DynamoUnits {
  private readonly byKind = new Map<ItemKind, KindTally>();
  /** Each job's decision writes (its OUTCOME item): what leaving some of them out would save. */
  readonly decisionsByJob = new Map<string, { requests: number; writeUnits: number; indexWriteUnits: number }>();

  /** Counts every call `client` sends from now on (bench clients only: the product adds nothing). */
  attach(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName ?? 'Unknown');
        const input = args.input as Item;
        // ReturnConsumedCapacity is already set here by the product's instrumentation (outer).
        const tally = this.tallyOf(kindOf(command, input));
        const read = READS.has(command);
        tally.requests += 1;
        if (read) tally.readRequests += 1;
        else tally.writeRequests += 1;
        try {
          const result = await next(args);
          const units = consumedUnits(result.output);
          if (read) tally.readUnits += units;
          else this.wrote(tally, command, input, units);
          return result;
        } catch (error) {
          if ((error as Error).name === 'ConditionalCheckFailedException') tally.failedConditions += 1;
          throw error;
        }
      },
      { step: 'initialize', priority: 'low', name: 'benchDynamoUnits' },
    );
    return this;
  }

  reset(): void {
    this.byKind.clear();
    this.decisionsByJob.clear();
  }

  /** Everything counted so far ÷ `jobs`. */
  perJob(jobs: number): UnitsPerJob {
    const divide = (t: KindTally): KindTally => {
      const out = emptyTally();
      for (const key of TALLY_KEYS) out[key] = Math.round((t[key] / jobs) * 1000) / 1000;
      return out;
    };
    const total = emptyTally();
    for (const tally of this.byKind.values()) {
      for (const key of TALLY_KEYS) total[key] += tally[key];
    }
    const byKind = Object.fromEntries(
      ITEM_KINDS.filter((k) => this.byKind.has(k)).map((k) => [k, divide(this.byKind.get(k) as KindTally)]),
    );
    return { ...divide(total), byKind };
  }

  private wrote(tally: KindTally, command: string, input: Item, units: number): void {
    const indexUnits = indexWriteUnitsOf(command, input);
    tally.writeUnits += units;
    tally.indexWriteUnits += indexUnits;
    if (tally !== this.byKind.get('decision')) return;
    const jobId = (text((input.Key as Item).pk) ?? '').slice(keys.jobPk('').length);
    const decisions = this.decisionsByJob.get(jobId) ?? { requests: 0, writeUnits: 0, indexWriteUnits: 0 };
    decisions.requests += 1;
    decisions.writeUnits += units;
    decisions.indexWriteUnits += indexUnits;
    this.decisionsByJob.set(jobId, decisions);
  }

  private tallyOf(kind: ItemKind): KindTally {
    let tally = this.byKind.get(kind);
    if (!tally) {
      tally = emptyTally();
      this.byKind.set(kind, tally);
    }
    return tally;
  }
}
