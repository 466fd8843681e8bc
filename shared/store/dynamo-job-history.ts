// Job history on DynamoDB: JOB#<jobId> / HISTORY#<time>#<n> items, written with BatchWriteItem
// (25 per call, UnprocessedItems retried with backoff) and an expiresAt attribute for TTL.
// A flush writes one item per job, holding that job's entries of the flush in order: a job's start
// and its completion usually share a flush, so this halves what the worker's history costs in
// write capacity (each small item is a write unit). Items written before 0.3 hold one entry as
// their own attributes; list() reads both shapes. A job with many entries in one flush (put back
// again and again while the table throttles) gets several items, each well below the item limit.

import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { keys } from '../dynamo/table.js';
import type { HistoryEntry } from '../lifecycle/history.js';
import { HistoryWriteError } from './errors.js';
import type { JobHistoryStore } from './types.js';

const BATCH_LIMIT = 25;
const MAX_UNPROCESSED_ROUNDS = 8;
/**
 * The entries' JSON per item at most: DynamoDB refuses an item over 400 KB, and with it the whole
 * batch, again on every retry. Far below it, as the item's size is close to the JSON's, not equal.
 */
const ITEM_ENTRY_BYTES = 64 * 1024;

/** One job's entries in order, cut into runs of at most `limit` bytes of JSON (an entry over it alone). */
function bySize(entries: readonly HistoryEntry[], limit: number): HistoryEntry[][] {
  const runs: HistoryEntry[][] = [];
  let run: HistoryEntry[] = [];
  let size = 0;
  for (const entry of entries) {
    const bytes = Buffer.byteLength(JSON.stringify(entry));
    if (run.length > 0 && size + bytes > limit) {
      runs.push(run);
      run = [];
      size = 0;
    }
    run.push(entry);
    size += bytes;
  }
  if (run.length > 0) runs.push(run);
  return runs;
}

export class DynamoJobHistory implements JobHistoryStore {
  private sequence = 0;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  /** One item for one job's entries of a flush (all of the same job, in order). */
  private item(entries: readonly HistoryEntry[]): Record<string, unknown> {
    const first = entries[0] as HistoryEntry;
    const last = entries.at(-1) as HistoryEntry;
    // The sequence and a random tail keep two items of the same millisecond apart.
    this.sequence = (this.sequence + 1) % 1_000_000;
    const tail = `${String(this.sequence).padStart(6, '0')}${Math.random().toString(36).slice(2, 6)}`;
    return {
      pk: keys.jobPk(first.jobId),
      sk: `${keys.historyPrefix}${first.at}#${tail}`,
      entries,
      expiresAt: Math.floor(Date.parse(last.at) / 1000) + this.retentionDays * 86_400,
    };
  }

  async write(entries: readonly HistoryEntry[]): Promise<void> {
    const byJob = new Map<string, HistoryEntry[]>();
    for (const entry of entries) {
      const list = byJob.get(entry.jobId);
      if (list) list.push(entry);
      else byJob.set(entry.jobId, [entry]);
    }
    const items = [...byJob.values()].flatMap((jobEntries) =>
      bySize(jobEntries, ITEM_ENTRY_BYTES).map((run) => this.item(run)),
    );
    for (let i = 0; i < items.length; i += BATCH_LIMIT) {
      let requests = items.slice(i, i + BATCH_LIMIT).map((Item) => ({ PutRequest: { Item } }));
      // What is not stored when this batch fails: a retry of the whole flush would store the
      // batches already written a second time (and spend their write units again, on a table
      // that is likely throttling).
      const unwritten = (cause: unknown) =>
        new HistoryWriteError(
          [...requests.map((r) => r.PutRequest.Item), ...items.slice(i + BATCH_LIMIT)].flatMap(
            (item) => item.entries as HistoryEntry[],
          ),
          { cause },
        );
      for (let round = 0; requests.length > 0; round++) {
        if (round >= MAX_UNPROCESSED_ROUNDS) {
          throw unwritten(new Error(`${requests.length} history items stayed unprocessed after ${round} rounds`));
        }
        if (round > 0) await sleep(Math.min(1000, 25 * 2 ** round));
        let out: BatchWriteCommandOutput;
        try {
          out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
        } catch (error) {
          throw unwritten(error);
        }
        requests = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
      }
    }
  }

  async list(jobId: string): Promise<HistoryEntry[]> {
    const entries: HistoryEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :history)',
          ExpressionAttributeValues: { ':pk': keys.jobPk(jobId), ':history': keys.historyPrefix },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        if (Array.isArray(item.entries)) entries.push(...(item.entries as HistoryEntry[]));
        else {
          const { pk: _pk, sk: _sk, expiresAt: _e, ...entry } = item;
          entries.push(entry as HistoryEntry);
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    // Items from different processes can overlap in time (a stalled delivery and its successor):
    // the job's life is the entries in time order (a stable sort keeps each flush's own order).
    return entries.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }
}
