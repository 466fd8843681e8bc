// The users projection on DynamoDB: one STATE item per user holding the folded state, the version
// it reflects and the newest jobs. It is also the aggregate's head: an event becomes part of the
// stream when the head moves from its version - 1 to its version, in one conditional write.
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { User, UserHead } from '../domain/user.js';
import { DEPARTMENT_INDEX, keys } from '../dynamo/table.js';
import { conditionalWrite } from './conditional.js';
import { countItems, scanItems } from './dynamo-event-store.js';
import { type BarResult, type Bars, barEntry, barredGenerations, NO_BARS, type UserProjectionStore } from './types.js';

const USER_ATTRIBUTES = ['id', 'name', 'email', 'age', 'department', 'createdAt', 'updatedAt'] as const;

function toUser(item: Record<string, unknown>): User {
  const user: Record<string, unknown> = {};
  for (const attr of USER_ATTRIBUTES) if (item[attr] !== undefined) user[attr] = item[attr];
  return user as unknown as User;
}

/** A head item with no version is bare: it holds only bars of a user that does not exist (yet). */
const isBare = (item: Record<string, unknown>) => item.version === undefined;

function toBars(item: Record<string, unknown> | undefined): Bars {
  if (!item || item.barSeq === undefined) return NO_BARS;
  return { seq: Number(item.barSeq), jobs: item.bars instanceof Set ? [...item.bars].map(String) : [] };
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

  private item(state: UserHead, bars: Bars): Record<string, unknown> {
    const base = {
      // Bars are written through unchanged (the link is conditional on their counter).
      ...(bars.seq > 0 ? { barSeq: bars.seq } : {}),
      ...(bars.jobs.length > 0 ? { bars: new Set(bars.jobs) } : {}),
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
        // The seed's projection expression (`name` is a reserved word), and the version to tell a bare item.
        ProjectionExpression: 'id, #name, email, age, department, createdAt, updatedAt, deleted, #version',
        ExpressionAttributeNames: { '#name': 'name', '#version': 'version' },
      }),
    );
    if (!Item || Item.deleted === true || isBare(Item)) return undefined;
    return toUser(Item);
  }

  async getHead(userId: string): Promise<UserHead | undefined> {
    return (await this.readForWrite(userId)).head;
  }

  async readForWrite(userId: string): Promise<{ head: UserHead | undefined; bars: Bars }> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: this.key(userId), ConsistentRead: true }),
    );
    return { head: Item && !isBare(Item) ? toHead(Item) : undefined, bars: toBars(Item) };
  }

  async bar(userId: string, jobId: string, generation: number): Promise<BarResult> {
    const barred = await conditionalWrite(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(userId),
          UpdateExpression: 'ADD bars :job, barSeq :one',
          // Not once the head names the job: its event is linked, a bar would come too late.
          ConditionExpression: 'NOT contains(recentJobs, :id)',
          ExpressionAttributeValues: { ':job': new Set([barEntry(jobId, generation)]), ':one': 1, ':id': jobId },
        }),
      ),
    );
    return barred ? 'barred' : 'linked';
  }

  async unbar(userId: string, jobId: string): Promise<void> {
    const { bars } = await this.readForWrite(userId);
    const entries = barredGenerations(bars, jobId).map((generation) => barEntry(jobId, generation));
    if (entries.length === 0) return;
    // No item (its condition fails): nothing was barred.
    await conditionalWrite(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(userId),
          UpdateExpression: 'DELETE bars :job ADD barSeq :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':job': new Set(entries), ':one': 1 },
        }),
      ),
    );
  }

  private key(userId: string) {
    return { pk: keys.userPk(userId), sk: keys.stateSk };
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

  async link(head: UserHead, fromVersion: number, bars: Bars = NO_BARS): Promise<boolean> {
    // Exactly one event moves a user from one version to the next: the first to write wins. And no
    // bar may have come since the read: the counter every bar moves is part of the condition.
    const version = fromVersion === 0 ? 'attribute_not_exists(#version)' : '#version = :from';
    const barred = bars.seq === 0 ? 'attribute_not_exists(barSeq)' : 'barSeq = :seq';
    return conditionalWrite(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: this.item(head, bars),
          ConditionExpression: `${version} AND ${barred}`,
          ExpressionAttributeNames: { '#version': 'version' },
          ...(fromVersion > 0 || bars.seq > 0
            ? {
                ExpressionAttributeValues: {
                  ...(fromVersion > 0 ? { ':from': fromVersion } : {}),
                  ...(bars.seq > 0 ? { ':seq': bars.seq } : {}),
                },
              }
            : {}),
        }),
      ),
    );
  }

  async overwrite(userId: string, state: UserHead | undefined): Promise<void> {
    if (state) {
      // The user's bars stay: a rebuild rewrites the state, never which jobs may link.
      const { bars } = await this.readForWrite(userId);
      await this.doc.send(new PutCommand({ TableName: this.tableName, Item: this.item(state, bars) }));
    } else {
      await this.doc.send(
        new DeleteCommand({ TableName: this.tableName, Key: { pk: keys.userPk(userId), sk: keys.stateSk } }),
      );
    }
  }

  async *scanAll(): AsyncIterable<UserHead> {
    const items = scanItems(
      this.doc,
      this.tableName,
      'begins_with(pk, :user) AND sk = :state AND attribute_exists(version)',
      { ':user': 'USER#', ':state': keys.stateSk },
    );
    for await (const item of items) yield toHead(item);
  }

  count(): Promise<number> {
    return countItems(this.doc, this.tableName, 'begins_with(pk, :user) AND sk = :state AND deleted = :no', {
      ':user': 'USER#',
      ':state': keys.stateSk,
      ':no': false,
    });
  }
}
