// Event store on DynamoDB: one item per event under USER#<id> / EVENT#<version>. An append is a
// conditional put on an empty version slot: optimistic concurrency without transactions.
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import type { UserEvent } from '../domain/user.js';
import { keys } from '../dynamo/table.js';
import { VersionConflictError } from './errors.js';
import type { EventStore } from './types.js';

type EventItem = UserEvent & { pk: string; sk: string };

function toEvent(item: Record<string, unknown>): UserEvent {
  const { pk: _pk, sk: _sk, ...event } = item as unknown as EventItem;
  return event as UserEvent;
}

export class DynamoEventStore implements EventStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async load(userId: string): Promise<UserEvent[]> {
    const events: UserEvent[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :events)',
          ExpressionAttributeValues: { ':pk': keys.userPk(userId), ':events': keys.eventPrefix },
          // Strongly consistent: the idempotency check must see every event already appended.
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) events.push(toEvent(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return events;
  }

  async get(userId: string, version: number): Promise<UserEvent | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: keys.userPk(userId), sk: keys.eventSk(version) },
        ConsistentRead: true,
      }),
    );
    return Item ? toEvent(Item) : undefined;
  }

  async append(event: UserEvent): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: keys.userPk(event.userId), sk: keys.eventSk(event.version), ...event },
          // The version slot must be empty: whoever appends first owns it; events are never overwritten.
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') {
        throw new VersionConflictError(event.userId, event.version, { cause: error });
      }
      throw error;
    }
  }

  async *scanAll(): AsyncIterable<UserEvent> {
    const pages = paginateScan(
      { client: this.doc },
      {
        TableName: this.tableName,
        FilterExpression: 'begins_with(pk, :user) AND begins_with(sk, :events)',
        ExpressionAttributeValues: { ':user': 'USER#', ':events': keys.eventPrefix },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) yield toEvent(item);
  }

  count(): Promise<number> {
    return countItems(this.doc, this.tableName, 'begins_with(pk, :user) AND begins_with(sk, :events)', {
      ':user': 'USER#',
      ':events': keys.eventPrefix,
    });
  }
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
