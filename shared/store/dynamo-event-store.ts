// Event store on DynamoDB: one item per (user, job) under USER#<id> / EVENT#<jobId>, carrying its
// version. Which event holds a version is decided by the head (see dynamo-user-projection.ts), so
// every write here is conditional on the item's own state: no transactions needed.
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  paginateScan,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { StoredEvent, UserEvent } from '../domain/user.js';
import { keys } from '../dynamo/table.js';
import { conditionalWrite } from './conditional.js';
import type { EventStore } from './types.js';

type EventItem = StoredEvent & { pk: string; sk: string };

function toEvent(item: Record<string, unknown>): StoredEvent {
  const { pk: _pk, sk: _sk, ...event } = item as unknown as EventItem;
  return event as StoredEvent;
}

/** Condition pieces, one reason each. */
const conditions = {
  /** This job has no event for this user yet. */
  absent: 'attribute_not_exists(pk)',
  /** The item is still at the version the caller saw. */
  atVersion: '#version = :from',
  /** Not part of the stream for good: a flagged event is never moved or deleted. */
  notFlagged: 'attribute_not_exists(linked)',
};

export class DynamoEventStore implements EventStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private key(userId: string, jobId: string) {
    return { pk: keys.userPk(userId), sk: keys.eventSk(jobId) };
  }

  async getByJob(userId: string, jobId: string): Promise<StoredEvent | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: this.key(userId, jobId), ConsistentRead: true }),
    );
    return Item ? toEvent(Item) : undefined;
  }

  async put(event: UserEvent): Promise<boolean> {
    return this.conditionalPut(event, conditions.absent);
  }

  async rewrite(event: UserEvent, fromVersion: number): Promise<boolean> {
    return this.conditionalPut(event, `${conditions.atVersion} AND ${conditions.notFlagged}`, fromVersion);
  }

  private async conditionalPut(event: UserEvent, condition: string, fromVersion?: number): Promise<boolean> {
    return conditionalWrite(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.key(event.userId, event.jobId), ...event },
          ConditionExpression: condition,
          ...(fromVersion !== undefined
            ? {
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':from': fromVersion },
              }
            : {}),
        }),
      ),
    );
  }

  async discard(userId: string, jobId: string, version: number): Promise<boolean> {
    return conditionalWrite(() =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: this.key(userId, jobId),
          ConditionExpression: `${conditions.atVersion} AND ${conditions.notFlagged}`,
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':from': version },
        }),
      ),
    );
  }

  async markLinked(userId: string, jobId: string, version: number): Promise<void> {
    const flagged = await conditionalWrite(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(userId, jobId),
          UpdateExpression: 'SET linked = :yes',
          // The head names this (job, version): an event there is never moved, so a failure is corruption.
          ConditionExpression: conditions.atVersion,
          ExpressionAttributeNames: { '#version': 'version' },
          ExpressionAttributeValues: { ':from': version, ':yes': true },
        }),
      ),
    );
    if (!flagged)
      throw new Error(`user ${userId}: the head links job ${jobId} at version ${version}, but its event is not there`);
  }

  async listUser(userId: string): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    const pages = paginateQuery(
      { client: this.doc },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :events)',
        ExpressionAttributeValues: { ':pk': keys.userPk(userId), ':events': keys.eventPrefix },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) events.push(toEvent(item));
    return events.sort((a, b) => a.version - b.version);
  }

  async *scanAll(): AsyncIterable<UserEvent> {
    const items = scanItems(this.doc, this.tableName, 'begins_with(pk, :user) AND begins_with(sk, :events)', {
      ':user': 'USER#',
      ':events': keys.eventPrefix,
    });
    for await (const item of items) yield toEvent(item);
  }

  count(): Promise<number> {
    return countItems(this.doc, this.tableName, 'begins_with(pk, :user) AND begins_with(sk, :events)', {
      ':user': 'USER#',
      ':events': keys.eventPrefix,
    });
  }
}

/** Every item matching a filter, page by page (a strongly consistent scan: operators and replay, never the hot path). */
export async function* scanItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  filter: string,
  values: Record<string, unknown>,
): AsyncIterable<Record<string, unknown>> {
  const pages = paginateScan(
    { client: doc },
    { TableName: tableName, FilterExpression: filter, ExpressionAttributeValues: values, ConsistentRead: true },
  );
  for await (const page of pages) yield* page.Items ?? [];
}

/** Counts items matching a filter with Select COUNT scans (no items are returned). */
export async function countItems(
  doc: DynamoDBDocumentClient,
  tableName: string,
  filter: string,
  values: Record<string, unknown>,
): Promise<number> {
  let total = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        Select: 'COUNT',
        FilterExpression: filter,
        ExpressionAttributeValues: values,
        ExclusiveStartKey: startKey,
      }),
    );
    total += page.Count ?? 0;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return total;
}
