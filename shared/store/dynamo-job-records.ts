// Job records on DynamoDB, in the job's own partition JOB#<id>: ACCEPTED (what the producer
// accepted, written before the job goes to Redis) and OUTCOME (the one item every generation's
// outcome is decided on, by a write conditional on there being none yet). The OUTCOME item's
// `marks` list is append-only: every decision and redrive the job ever had, so a checker sees
// all of them, not only the last. Both items carry the job indexes' keys (store/job-index.ts), so
// a job is found by user, state and time long after Redis has pruned it.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { JOB_INDEX_BUCKETS, JOBS_BY_OP_INDEX, JOBS_BY_TIME_INDEX, keys, USER_JOBS_INDEX } from '../dynamo/table.js';
import { conditionalWrite, isConditionFailure } from './conditional.js';
import { scanItems } from './dynamo-event-store.js';
import { StaleGenerationError } from './errors.js';
import { acceptedIndexKeys, jobIdOfTimeSk, outcomeIndexKeys, touchItems } from './job-index.js';
import type {
  AcceptedJob,
  DecideContext,
  DecidedOutcome,
  Decision,
  JobIndexKey,
  JobOutcome,
  JobQuery,
  JobQueryPage,
  JobRecord,
  JobRecordStore,
  OutcomeMark,
} from './types.js';

const BATCH_LIMIT = 25;
/** BatchWriteItem calls in flight at once for one acceptance. */
const BATCHES_AT_ONCE = 4;
const MAX_UNPROCESSED_ROUNDS = 8;
/** BatchGetItems of one getMany in flight at once: a page of 200 records in one round trip's time. */
const PARALLEL_BATCH_GETS = 4;

export class DynamoJobRecords implements JobRecordStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** HISTORY_RETENTION_DAYS: a batch's TOUCHES items expire with the job's history. */
    private readonly retentionDays: number,
  ) {}

  async accept(jobs: readonly AcceptedJob[]): Promise<void> {
    const at = new Date().toISOString();
    const items = jobs.flatMap((job) => [
      {
        pk: keys.jobPk(job.id),
        sk: keys.acceptedSk,
        name: job.name,
        data: job.data,
        at,
        ...acceptedIndexKeys(job.id, job.name, job.data, at),
      },
      ...touchItems(job.id, job.name, job.data, at, this.retentionDays),
    ]);
    // Unconditional puts in batches: the item never changes once written (a retried tick writes
    // the same job again), and the outcome lives in an item of its own that this never touches.
    // A few batches at once: a tick carrying many jobs waits about one DynamoDB round trip.
    const batches: (typeof items)[] = [];
    for (let i = 0; i < items.length; i += BATCH_LIMIT) batches.push(items.slice(i, i + BATCH_LIMIT));
    for (let i = 0; i < batches.length; i += BATCHES_AT_ONCE)
      await Promise.all(batches.slice(i, i + BATCHES_AT_ONCE).map((batch) => this.putAll(batch)));
  }

  /** One BatchWriteItem of at most 25 puts, its unprocessed items sent again with backoff. */
  private async putAll(items: readonly Record<string, unknown>[]): Promise<void> {
    let requests = items.map((Item) => ({ PutRequest: { Item } }));
    for (let round = 0; requests.length > 0; round++) {
      if (round >= MAX_UNPROCESSED_ROUNDS)
        throw new Error(`${requests.length} accepted jobs stayed unprocessed after ${round} rounds`);
      if (round > 0) await sleep(Math.min(1000, 25 * 2 ** round));
      const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
      requests = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
    }
  }

  async decide(jobId: string, outcome: DecidedOutcome, by: string, context: DecideContext): Promise<Decision> {
    const { op, reason, gen } = context;
    const at = new Date().toISOString();
    const { values, set } = indexUpdate(outcomeIndexKeys(jobId, outcome, at, op));
    // A generation the caller read (a move): never a later one a redrive opened meanwhile.
    const ofGen = gen === undefined ? '' : ` AND (${gen === 1 ? 'attribute_not_exists(gen) OR ' : ''}gen = :gen)`;
    try {
      const { Attributes } = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.outcomeKey(jobId),
          // The generation's one decision: whoever writes first decides, every later caller follows.
          ConditionExpression: `attribute_not_exists(outcome)${ofGen}`,
          UpdateExpression: `SET outcome = :o, gen = if_not_exists(gen, :one), marks = list_append(if_not_exists(marks, :none), :mark), ${set}`,
          ExpressionAttributeValues: {
            ':o': outcome,
            ...values,
            ':one': 1,
            ':none': [],
            ':mark': [{ outcome, at, by, ...(reason ? { reason } : {}) }],
            ...(gen === undefined ? {} : { ':gen': gen }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { won: true, outcome, gen: Number(Attributes?.gen ?? 1) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const record = await this.get(jobId);
    if (gen !== undefined && (record?.gen ?? 1) !== gen) throw new StaleGenerationError(jobId, gen, record?.gen ?? 1);
    if (!record?.outcome) throw new Error(`job ${jobId}: its outcome was decided, then read back as undecided`);
    return { won: false, outcome: record.outcome, gen: record.gen };
  }

  reopen(jobId: string, by: string, startedAt: number): Promise<boolean> {
    return this.closeDeadLettered(jobId, {
      UpdateExpression:
        'SET gen = gen + :one, genStartedAt = :started, marks = list_append(marks, :mark) REMOVE outcome, gsi3pk, gsi3sk, gsi4pk, gsi4sk',
      mark: { outcome: 'redriven', by },
      values: { ':started': startedAt, ':one': 1 },
    });
  }

  purge(jobId: string, by: string): Promise<boolean> {
    return this.closeDeadLettered(jobId, {
      UpdateExpression: 'SET outcome = :purged, marks = list_append(marks, :mark)',
      mark: { outcome: 'purged', by },
      values: { ':purged': 'purged' },
      indexAs: 'purged',
    });
  }

  /** An update of a dead-lettered record, conditional on it still being dead-lettered. */
  private async closeDeadLettered(
    jobId: string,
    change: {
      UpdateExpression: string;
      mark: Pick<OutcomeMark, 'outcome' | 'by'>;
      values?: Record<string, unknown>;
      /** The outcome the job indexes file the job under from now. */
      indexAs?: JobOutcome;
    },
  ): Promise<boolean> {
    const record = await this.get(jobId);
    if (record?.outcome !== 'dead-lettered') return false;
    const at = new Date().toISOString();
    const index = change.indexAs
      ? indexUpdate(outcomeIndexKeys(jobId, change.indexAs, at, record.accepted?.name))
      : undefined;
    const values = { ...change.values, ...index?.values };
    return conditionalWrite(() =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.outcomeKey(jobId),
          ConditionExpression: 'outcome = :dl AND gen = :gen',
          UpdateExpression: index ? `${change.UpdateExpression}, ${index.set}` : change.UpdateExpression,
          ExpressionAttributeValues: {
            ':dl': 'dead-lettered',
            ':gen': record.gen,
            ':mark': [{ ...change.mark, at }],
            ...values,
          },
        }),
      ),
    );
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

  async getMany(jobIds: readonly string[]): Promise<JobRecord[]> {
    const unique = [...new Set(jobIds)];
    const items: Record<string, unknown>[] = [];
    // 100 keys per BatchGetItem (50 jobs, two items each), a few of them at once.
    const readChunk = async (ids: readonly string[]) => {
      let requestKeys: Record<string, unknown>[] = ids.flatMap((id) =>
        [keys.acceptedSk, keys.outcomeSk].map((sk) => ({ pk: keys.jobPk(id), sk })),
      );
      for (let round = 0; requestKeys.length > 0; round++) {
        if (round >= MAX_UNPROCESSED_ROUNDS) throw new Error(`${requestKeys.length} job records stayed unread`);
        if (round > 0) await sleep(Math.min(1000, 25 * 2 ** round));
        const out = await this.doc.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: requestKeys, ConsistentRead: true } },
          }),
        );
        items.push(...(out.Responses?.[this.tableName] ?? []));
        requestKeys = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    };
    for (let i = 0; i < unique.length; i += 50 * PARALLEL_BATCH_GETS) {
      const chunks = Array.from({ length: PARALLEL_BATCH_GETS }, (_, k) =>
        unique.slice(i + k * 50, i + (k + 1) * 50),
      ).filter((chunk) => chunk.length > 0);
      await Promise.all(chunks.map(readChunk));
    }
    const byJob = groupByJob(items);
    return [...byJob].flatMap(([jobId, jobItems]) => toRecord(jobId, jobItems) ?? []);
  }

  /**
   * Reads every partition the key spreads over (one for a user, JOB_INDEX_BUCKETS by time), a
   * page's worth from each, and merges. The cursor is the last sort key shown: sort keys are
   * unique (`<at>#<jobId>`), so the next page is "beyond it" in every partition alike.
   */
  async queryJobs(query: JobQuery): Promise<JobQueryPage> {
    const target = indexTarget(query.by);
    const range = sortKeyRange(query);
    if (range === undefined) return { jobs: [] };
    // Each bucket holds about 1/8 of a page: ask each for a share and a margin, not a whole page
    // (8 pages read to show one). The merge below keeps only what it knows to be complete.
    const { partitions } = target;
    const perPartition = partitions.length === 1 ? query.limit : Math.ceil((query.limit * 1.5) / partitions.length) + 2;
    const pages = await Promise.all(
      partitions.map((pk) =>
        this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: target.index,
            KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :low AND :high',
            ExpressionAttributeNames: { '#pk': target.pkName, '#sk': target.skName },
            ExpressionAttributeValues: { ':pk': pk, ':low': range.low, ':high': range.high },
            ScanIndexForward: !range.newest,
            // One more than a page: the cursor itself comes back (BETWEEN is inclusive).
            Limit: perPartition + 1,
          }),
        ),
      ),
    );
    return mergePages(
      pages.map((page) => ({
        sortKeys: (page.Items ?? []).map((item) => String(item[target.skName])).filter((sk) => sk !== query.cursor),
        stopped: page.LastEvaluatedKey !== undefined,
      })),
      query.limit,
      range.newest,
    );
  }

  async *scanAll(): AsyncIterable<JobRecord> {
    // A job's two items can land in different pages: group by job across the whole scan.
    const byJob: ItemsByJob = new Map();
    const items = scanItems(this.doc, this.tableName, 'begins_with(pk, :job) AND (sk = :a OR sk = :o)', {
      ':job': 'JOB#',
      ':a': keys.acceptedSk,
      ':o': keys.outcomeSk,
    });
    for await (const item of items) groupByJob([item], byJob);
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
    const created = await conditionalWrite(() =>
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.epochKey(queue), epoch, at: new Date().toISOString() },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    );
    return created ? epoch : ((await this.readEpoch(queue)) ?? epoch);
  }

  private outcomeKey(jobId: string) {
    return { pk: keys.jobPk(jobId), sk: keys.outcomeSk };
  }

  private epochKey(queue: string) {
    return { pk: keys.metaPk, sk: keys.epochSk(queue) };
  }
}

type ItemsByJob = Map<string, Record<string, unknown>[]>;

function groupByJob(items: readonly Record<string, unknown>[], byJob: ItemsByJob = new Map()): ItemsByJob {
  for (const item of items) {
    const jobId = String(item.pk).slice('JOB#'.length);
    const list = byJob.get(jobId);
    if (list) list.push(item);
    else byJob.set(jobId, [item]);
  }
  return byJob;
}

/**
 * Index key attributes as an update's SET clause and its values. The attributes are named as they
 * are (no reserved words among them): the bench counts index writes by the names an update sets.
 */
function indexUpdate(indexKeys: Record<string, string>) {
  const attributes = Object.keys(indexKeys);
  return {
    set: attributes.map((a, i) => `${a} = :index${i}`).join(', '),
    values: Object.fromEntries(attributes.map((a, i) => [`:index${i}`, indexKeys[a]])),
  };
}

/** The index, its key attributes and the partitions a query reads. */
function indexTarget(by: JobIndexKey) {
  if ('user' in by)
    return { index: USER_JOBS_INDEX, pkName: 'gsi2pk', skName: 'gsi2sk', partitions: [keys.userJobsPk(by.user)] };
  const { state, op } = by;
  const buckets = Array.from({ length: JOB_INDEX_BUCKETS }, (_, b) => b);
  if (op !== undefined)
    return {
      index: JOBS_BY_OP_INDEX,
      pkName: 'gsi4pk',
      skName: 'gsi4sk',
      partitions: buckets.map((b) => (state === 'accepted' ? keys.opPk(op, b) : keys.stateOpPk(state, op, b))),
    };
  return {
    index: JOBS_BY_TIME_INDEX,
    pkName: 'gsi3pk',
    skName: 'gsi3sk',
    partitions: buckets.map((b) => (state === 'accepted' ? keys.jobsPk(b) : keys.statePk(state, b))),
  };
}

/** The sort keys a query's time range and cursor allow; undefined when none. */
function sortKeyRange(query: JobQuery): { low: string; high: string; newest: boolean } | undefined {
  const newest = query.order !== 'oldest';
  // ISO times sort as strings; '~' sorts after '#', so `to` takes in every job of its instant.
  let low = query.from ?? '0';
  let high = query.to ? `${query.to}~` : '~';
  if (query.cursor) {
    const [lower, higher] = [query.cursor, newest ? high : low].sort() as [string, string];
    if (newest) high = lower;
    else low = higher;
  }
  return low > high ? undefined : { low, high, newest };
}

/**
 * One page from every partition's answer, in order. A partition that stopped at its limit is known
 * only down to (newest first; up to, oldest first) the last key it returned: the merge is complete
 * only as far as the nearest of those.
 */
function mergePages(
  pages: readonly { sortKeys: string[]; stopped: boolean }[],
  limit: number,
  newest: boolean,
): JobQueryPage {
  let sortKeys = pages.flatMap((p) => p.sortKeys).sort();
  if (newest) sortKeys.reverse();
  const lastOfStopped = pages.flatMap((p) => (p.stopped && p.sortKeys.length > 0 ? [p.sortKeys.at(-1) as string] : []));
  if (lastOfStopped.length > 0) {
    const frontier = lastOfStopped.sort()[newest ? lastOfStopped.length - 1 : 0] as string;
    sortKeys = sortKeys.filter((sk) => (newest ? sk >= frontier : sk <= frontier));
  }
  const more = sortKeys.length > limit || pages.some((p) => p.stopped);
  const shown = sortKeys.slice(0, limit);
  const last = shown.at(-1);
  return {
    jobs: shown.map((sk) => ({ jobId: jobIdOfTimeSk(sk), at: sk.slice(0, sk.indexOf('#')), position: sk })),
    ...(more && last !== undefined ? { cursor: last } : {}),
  };
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
