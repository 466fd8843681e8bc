// The users projection on DynamoDB: one STATE item per user holding the folded state, the version
// it reflects and the newest jobs. It is also the aggregate's head: an event becomes part of the
// stream when the head moves from its version - 1 to its version, in one conditional write.
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import type { User, UserHead } from '../domain/user.js';
import { DEPARTMENT_INDEX, keys } from '../dynamo/table.js';
import { countItems } from './dynamo-event-store.js';
import type { UserProjectionStore } from './types.js';

const USER_ATTRIBUTES = ['id', 'name', 'email', 'age', 'department', 'createdAt', 'updatedAt'] as const;

function toUser(item: Record<string, unknown>): User {
  const user: Record<string, unknown> = {};
  for (const attr of USER_ATTRIBUTES) if (item[attr] !== undefined) user[attr] = item[attr];
  return user as unknown as User;
}

function toHead(item: Record<string, unknown>): UserHead {
  const head: UserHead = {
    userId: String(item.userId),
    version: Number(item.version),
    deleted: item.deleted === true,
    recentJobs: Array.isArray(item.recentJobs) ? item.recentJobs.map(String) : [],
    createdBy: String(item.createdBy ?? ''),
  };
  if (!head.deleted) head.user = toUser(item);
  return head;
}

export class DynamoUserProjection implements UserProjectionStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private item(state: UserHead): Record<string, unknown> {
    const base = {
      pk: keys.userPk(state.userId),
      sk: keys.stateSk,
      userId: state.userId,
      version: state.version,
      deleted: state.deleted,
      recentJobs: state.recentJobs,
      createdBy: state.createdBy,
    };
    if (!state.user) return base; // a tombstone keeps the version, so late retries stay no-ops
    const department = state.user.department;
    return {
      ...base,
      ...state.user,
      // Only live users with a department are in the department index.
      ...(department ? { gsi1pk: keys.departmentPk(department), gsi1sk: keys.userPk(state.userId) } : {}),
    };
  }

  async getUser(userId: string): Promise<User | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: keys.userPk(userId), sk: keys.stateSk },
        // The seed's projection expression; `name` is a reserved word.
        ProjectionExpression: 'id, #name, email, age, department, createdAt, updatedAt, deleted',
        ExpressionAttributeNames: { '#name': 'name' },
      }),
    );
    if (!Item || Item.deleted === true) return undefined;
    return toUser(Item);
  }

  async getHead(userId: string): Promise<UserHead | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: keys.userPk(userId), sk: keys.stateSk },
        ConsistentRead: true,
      }),
    );
    return Item ? toHead(Item) : undefined;
  }

  async queryByDepartment(department: string, limit: number): Promise<User[]> {
    const { Items } = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: DEPARTMENT_INDEX,
        KeyConditionExpression: 'gsi1pk = :dept',
        ExpressionAttributeValues: { ':dept': keys.departmentPk(department) },
        Limit: limit,
      }),
    );
    return (Items ?? []).map(toUser);
  }

  async link(head: UserHead, fromVersion: number): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(head),
          // Exactly one event moves a user from one version to the next: the first to write wins.
          ...(fromVersion === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: '#version = :from',
                ExpressionAttributeNames: { '#version': 'version' },
                ExpressionAttributeValues: { ':from': fromVersion },
              }),
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async overwrite(userId: string, state: UserHead | undefined): Promise<void> {
    if (state) {
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: this.item(state) }));
    } else {
      await this.doc.send(
        new DeleteCommand({ TableName: this.tableName, Key: { pk: keys.userPk(userId), sk: keys.stateSk } }),
      );
    }
  }

  async *scanAll(): AsyncIterable<UserHead> {
    const pages = paginateScan(
      { client: this.doc },
      {
        TableName: this.tableName,
        FilterExpression: 'begins_with(pk, :user) AND sk = :state',
        ExpressionAttributeValues: { ':user': 'USER#', ':state': keys.stateSk },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) for (const item of page.Items ?? []) yield toHead(item);
  }

  count(): Promise<number> {
    return countItems(this.doc, this.tableName, 'begins_with(pk, :user) AND sk = :state AND deleted = :no', {
      ':user': 'USER#',
      ':state': keys.stateSk,
      ':no': false,
    });
  }
}
