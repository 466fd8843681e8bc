// Job history on DynamoDB: JOB#<jobId> / HISTORY#<time>#<n> items, written with BatchWriteItem
// (25 per call, UnprocessedItems retried with backoff) and an expiresAt attribute for TTL.

import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../dynamo/table.js';
import type { HistoryEntry } from '../lifecycle/history.js';
import type { JobHistoryStore } from './types.js';

const BATCH_LIMIT = 25;
const MAX_UNPROCESSED_ROUNDS = 8;

export class DynamoJobHistory implements JobHistoryStore {
  private sequence = 0;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly retentionDays: number,
  ) {}

  private item(entry: HistoryEntry): Record<string, unknown> {
    // The sequence and a random tail keep two entries of the same millisecond apart.
    this.sequence = (this.sequence + 1) % 1_000_000;
    const tail = `${String(this.sequence).padStart(6, '0')}${Math.random().toString(36).slice(2, 6)}`;
    return {
      pk: keys.jobPk(entry.jobId),
      sk: `${keys.historyPrefix}${entry.at}#${tail}`,
      ...entry,
      expiresAt: Math.floor(Date.parse(entry.at) / 1000) + this.retentionDays * 86_400,
    };
  }

  async write(entries: readonly HistoryEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += BATCH_LIMIT) {
      let requests = entries.slice(i, i + BATCH_LIMIT).map((e) => ({ PutRequest: { Item: this.item(e) } }));
      for (let round = 0; requests.length > 0; round++) {
        if (round >= MAX_UNPROCESSED_ROUNDS) {
          throw new Error(`${requests.length} history entries stayed unprocessed after ${round} rounds`);
        }
        if (round > 0) await sleep(Math.min(1000, 25 * 2 ** round));
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
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
        const { pk: _pk, sk: _sk, expiresAt: _e, ...entry } = item;
        entries.push(entry as HistoryEntry);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return entries;
  }
}
