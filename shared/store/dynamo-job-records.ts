// Job records on DynamoDB, in the job's own partition JOB#<id>: ACCEPTED (what the producer
// accepted, written before the job goes to Redis) and OUTCOME (the one item every generation's
// outcome is decided on, by a write conditional on there being none yet). The OUTCOME item's
// `marks` list is append-only: every decision and redrive the job ever had, so a checker sees
// all of them, not only the last.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateScan,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { keys } from '../dynamo/table.js';
import type { AcceptedJob, Decision, JobOutcome, JobRecord, JobRecordStore, OutcomeMark } from './types.js';

const BATCH_LIMIT = 25;
const MAX_UNPROCESSED_ROUNDS = 8;

const isConditionFailure = (error: unknown) => (error as Error).name === 'ConditionalCheckFailedException';

export class DynamoJobRecords implements JobRecordStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async accept(jobs: readonly AcceptedJob[]): Promise<void> {
    const at = new Date().toISOString();
    const items = jobs.map((job) => ({
      pk: keys.jobPk(job.id),
      sk: keys.acceptedSk,
      name: job.name,
      data: job.data,
      at,
    }));
    // Unconditional puts in batches: the item never changes once written (a retried tick writes
    // the same job again), and the outcome lives in an item of its own that this never touches.
    for (let i = 0; i < items.length; i += BATCH_LIMIT) {
      let requests = items.slice(i, i + BATCH_LIMIT).map((Item) => ({ PutRequest: { Item } }));
      for (let round = 0; requests.length > 0; round++) {
        if (round >= MAX_UNPROCESSED_ROUNDS)
          throw new Error(`${requests.length} accepted jobs stayed unprocessed after ${round} rounds`);
        if (round > 0) await sleep(Math.min(1000, 25 * 2 ** round));
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
        requests = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
      }
    }
  }

  async decide(jobId: string, outcome: 'completed' | 'dead-lettered', by: string, reason?: string): Promise<Decision> {
    const at = new Date().toISOString();
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.outcomeKey(jobId),
          // The generation's one decision: whoever writes first decides, every later caller follows.
          ConditionExpression: 'attribute_not_exists(outcome)',
          UpdateExpression:
            'SET outcome = :o, gen = if_not_exists(gen, :one), marks = list_append(if_not_exists(marks, :none), :mark)',
          ExpressionAttributeValues: {
            ':o': outcome,
            ':one': 1,
            ':none': [],
            ':mark': [{ outcome, at, by, ...(reason ? { reason } : {}) }],
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { won: true, outcome, gen: Number(Attributes?.gen ?? 1) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const record = await this.get(jobId);
    if (!record?.outcome) throw new Error(`job ${jobId}: its outcome was decided, then read back as undecided`);
    return { won: false, outcome: record.outcome, gen: record.gen };
  }

  reopen(jobId: string, by: string, startedAt: number): Promise<boolean> {
    return this.closeDeadLettered(jobId, {
      UpdateExpression:
        'SET gen = gen + :one, genStartedAt = :started, marks = list_append(marks, :mark) REMOVE outcome',
      mark: { outcome: 'redriven', by },
      values: { ':started': startedAt, ':one': 1 },
    });
  }

  purge(jobId: string, by: string): Promise<boolean> {
    return this.closeDeadLettered(jobId, {
      UpdateExpression: 'SET outcome = :purged, marks = list_append(marks, :mark)',
      mark: { outcome: 'purged', by },
      values: { ':purged': 'purged' },
    });
  }

  /** An update of a dead-lettered record, conditional on it still being dead-lettered. */
  private async closeDeadLettered(
    jobId: string,
    change: { UpdateExpression: string; mark: Pick<OutcomeMark, 'outcome' | 'by'>; values?: Record<string, unknown> },
  ): Promise<boolean> {
    const record = await this.get(jobId);
    if (record?.outcome !== 'dead-lettered') return false;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.outcomeKey(jobId),
          ConditionExpression: 'outcome = :dl AND gen = :gen',
          UpdateExpression: change.UpdateExpression,
          ExpressionAttributeValues: {
            ':dl': 'dead-lettered',
            ':gen': record.gen,
            ':mark': [{ ...change.mark, at: new Date().toISOString() }],
            ...change.values,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async get(jobId: string): Promise<JobRecord | undefined> {
    const read = (sk: string) =>
      this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: { pk: keys.jobPk(jobId), sk }, ConsistentRead: true }),
      );
    const [accepted, outcome] = await Promise.all([read(keys.acceptedSk), read(keys.outcomeSk)]);
    return toRecord(
      jobId,
      [accepted.Item, outcome.Item].filter((i) => i !== undefined),
    );
  }

  async *scanAll(): AsyncIterable<JobRecord> {
    // A job's two items can land in different pages: group by job across the whole scan.
    const byJob = new Map<string, Record<string, unknown>[]>();
    const pages = paginateScan(
      { client: this.doc },
      {
        TableName: this.tableName,
        FilterExpression: 'begins_with(pk, :job) AND (sk = :a OR sk = :o)',
        ExpressionAttributeValues: { ':job': 'JOB#', ':a': keys.acceptedSk, ':o': keys.outcomeSk },
        ConsistentRead: true,
      },
    );
    for await (const page of pages)
      for (const item of page.Items ?? []) {
        const jobId = String(item.pk).slice('JOB#'.length);
        const items = byJob.get(jobId);
        if (items) items.push(item);
        else byJob.set(jobId, [item]);
      }
    for (const [jobId, items] of byJob) {
      const record = toRecord(jobId, items);
      if (record) yield record;
    }
  }

  async readEpoch(queue: string): Promise<string | undefined> {
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: this.epochKey(queue), ConsistentRead: true }),
    );
    return typeof Item?.epoch === 'string' ? Item.epoch : undefined;
  }

  async initEpoch(queue: string, epoch: string): Promise<string> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.epochKey(queue), epoch, at: new Date().toISOString() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return epoch;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return (await this.readEpoch(queue)) ?? epoch;
    }
  }

  private outcomeKey(jobId: string) {
    return { pk: keys.jobPk(jobId), sk: keys.outcomeSk };
  }

  private epochKey(queue: string) {
    return { pk: keys.metaPk, sk: keys.epochSk(queue) };
  }
}

function toRecord(jobId: string, items: readonly Record<string, unknown>[]): JobRecord | undefined {
  const accepted = items.find((i) => i.sk === keys.acceptedSk);
  const outcome = items.find((i) => i.sk === keys.outcomeSk);
  if (!accepted && !outcome) return undefined;
  return {
    jobId,
    ...(accepted
      ? { accepted: { id: jobId, name: String(accepted.name), data: accepted.data, at: String(accepted.at) } }
      : {}),
    gen: Number(outcome?.gen ?? 1),
    ...(outcome?.genStartedAt !== undefined ? { genStartedAt: Number(outcome.genStartedAt) } : {}),
    ...(outcome?.outcome ? { outcome: outcome.outcome as JobOutcome } : {}),
    marks: (outcome?.marks as OutcomeMark[] | undefined) ?? [],
  };
}
