// The console's search on a table of many job records (issue 20's targets): `jobs` jobs written as
// the producer and the workers leave them (an ACCEPTED item through the store's own batch writes,
// an OUTCOME item as a decision writes it, and one to three history items a job through the
// history store: set-up, not measured), then, one call at a time, a lookup by job id, a user's
// jobs, a filtered page of 50 (a state and an operation, which the by-operation index holds) and a
// page of 50 by error class (which only the dead-lettered jobs' histories name), each timed. Also
// the index write units per job: dynalite reports no index writes, so they are counted from the
// items written, by DynamoDB's rule (one write unit per KB of index entry per index the item is
// in; a keys-only entry is its keys and 100 bytes).
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { keys } from '../../shared/dynamo/table.js';
import type { HistoryEntry } from '../../shared/lifecycle/history-entry.js';
import { type JobFilter, JobSearch } from '../../shared/operator/job-search.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { acceptedIndexKeys, outcomeIndexKeys, touchItems } from '../../shared/store/job-index.js';
import type { AcceptedJob, Stores } from '../../shared/store/types.js';
import { progress } from '../report.js';
import { type BenchServices, createTable, percentile, round, runConfig } from '../support.js';

export interface SearchLookup {
  samples: number;
  p50Ms: number;
  p95Ms: number;
  targetMs: number;
  /** Jobs in the answers, summed (a lookup that finds nothing measures nothing). */
  found: number;
}

export interface SearchResult {
  jobs: number;
  users: number;
  seedSeconds: number;
  byJobId: SearchLookup;
  byUser: SearchLookup;
  filteredPage: SearchLookup & { filter: string };
  /** A filtered page of 50 by error class (the attempts' history read for each dead-lettered job). */
  byError?: SearchLookup & { filter: string };
  /** History items written (one per job per flush: 1 to 3 a job). */
  historyItems?: number;
  /** Index write units of accepting and deciding one job (no redrive, no purge), from the items written. */
  indexWriteUnitsPerJob: number;
}

export const SEARCH_TARGETS_MS = { byJobId: 100, byUser: 100, filteredPage: 300 } as const;

const SEED_PARALLEL = 8;
const SEED_CHUNK = 250;

/** A job of the mix: mostly updates, some reads, creates and three-user batches. */
function jobOf(i: number, users: readonly string[]): AcceptedJob {
  const user = users[i % users.length] ?? 'u';
  const id = randomUUID();
  switch (i % 10) {
    case 0:
      return { id, name: 'get-user', data: { userId: user } };
    case 1:
      return {
        id,
        name: 'batch-create-users',
        data: {
          users: [0, 1, 2].map((k) => ({
            id: users[(i + k * 7) % users.length],
            name: 'Batch',
            email: 'b@example.com',
            age: 30,
            department: 'Engineering',
          })),
        },
      };
    default:
      return { id, name: 'update-user', data: { userId: user, changes: { age: 20 + (i % 60) } } };
  }
}

/** The write units of one keys-only index entry of `item`: its table keys, its index keys, 100 bytes. */
function indexEntryUnits(item: Record<string, unknown>, pk: string, sk: string): number {
  const attrs = ['pk', 'sk', pk, sk];
  const bytes = attrs.reduce((sum, a) => sum + a.length + Buffer.byteLength(String(item[a] ?? '')), 100);
  return Math.ceil(bytes / 1024);
}

function indexUnitsOf(item: Record<string, unknown>): number {
  return (
    (item.gsi2pk ? indexEntryUnits(item, 'gsi2pk', 'gsi2sk') : 0) +
    (item.gsi3pk ? indexEntryUnits(item, 'gsi3pk', 'gsi3sk') : 0) +
    (item.gsi4pk ? indexEntryUnits(item, 'gsi4pk', 'gsi4sk') : 0)
  );
}

async function timed(samples: number, call: (i: number) => Promise<number>): Promise<{ ms: number[]; found: number }> {
  const ms: number[] = [];
  let found = 0;
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    found += await call(i);
    ms.push(performance.now() - started);
  }
  return { ms: ms.sort((a, b) => a - b), found };
}

const lookup = (r: { ms: number[]; found: number }, targetMs: number): SearchLookup => ({
  samples: r.ms.length,
  p50Ms: round(percentile(r.ms, 50), 2),
  p95Ms: round(percentile(r.ms, 95), 2),
  targetMs,
  found: r.found,
});

export async function searchSection(
  services: BenchServices,
  options: { jobs: number; samples: number },
): Promise<SearchResult> {
  const { config } = runConfig(services, 'search');
  await createTable(config);
  const dynamo = createDynamoClients(config);
  const stores = createDynamoStores(dynamo, config);
  const users = Array.from({ length: Math.max(10, Math.floor(options.jobs / 10)) }, () => randomUUID());
  const jobs = Array.from({ length: options.jobs }, (_, i) => jobOf(i, users));

  const seedStarted = performance.now();
  const seeded = await seed(stores, dynamo.doc, config.DYNAMODB_TABLE_NAME, jobs);
  const seedSeconds = round((performance.now() - seedStarted) / 1000, 1);

  // Every job is decided: the search never asks Redis.
  const search = new JobSearch({ records: stores.jobs, history: stores.history, queueState: async () => 'unknown' });
  const pick = (i: number) => jobs[(i * 7919) % jobs.length]?.id ?? '';
  const pickUser = (i: number) => users[(i * 104_729) % users.length] ?? '';
  // Unmeasured warm-up: connections, JIT.
  for (let i = 0; i < 5; i++) {
    await search.search({ jobId: pick(i) });
    await search.search({ userId: pickUser(i) }, { limit: 50 });
    await search.search(FILTERED, { limit: 50 });
    await search.search(BY_ERROR, { limit: 50 });
  }
  progress('search', `timing ${options.samples} lookups of each kind`);
  const byJobId = await timed(
    options.samples,
    async (i) => (await search.search({ jobId: pick(i + 100) })).jobs.length,
  );
  const byUser = await timed(
    options.samples,
    async (i) => (await search.search({ userId: pickUser(i + 100) }, { limit: 50 })).jobs.length,
  );
  const filtered = await timed(options.samples, pager(search, FILTERED));
  const byError = await timed(options.samples, pager(search, BY_ERROR));
  dynamo.close();
  return {
    jobs: options.jobs,
    users: users.length,
    historyItems: seeded.historyItems,
    seedSeconds,
    byJobId: lookup(byJobId, SEARCH_TARGETS_MS.byJobId),
    byUser: lookup(byUser, SEARCH_TARGETS_MS.byUser),
    filteredPage: { ...lookup(filtered, SEARCH_TARGETS_MS.filteredPage), filter: 'state=completed, op=get-user' },
    byError: {
      ...lookup(byError, SEARCH_TARGETS_MS.filteredPage),
      filter: 'state=dead-lettered, error=PoisonPayloadError',
    },
    indexWriteUnitsPerJob: round(seeded.indexUnits / options.jobs, 3),
  };
}

/** The filtered page: a state and an operation (one job in ten of the completed). */
const FILTERED: JobFilter = { state: 'completed', op: 'get-user' };
/** By error class: named in the attempts' history only (a reason holds the message), half the dead-lettered. */
const BY_ERROR: JobFilter = { state: 'dead-lettered', error: 'PoisonPayloadError' };

/** Pages of 50 through a filter, each call the next page of the one before, from the top again at the end. */
function pager(search: JobSearch, filter: JobFilter): () => Promise<number> {
  let cursor: string | undefined;
  return async () => {
    const page = await search.search(filter, { limit: 50, ...(cursor ? { cursor } : {}) });
    cursor = page.cursor;
    return page.jobs.length;
  };
}

/**
 * Set-up, not timed: ACCEPTED (and TOUCHES) items through the store, OUTCOME items as `decide`
 * writes them, and each job's history as the workers' flushes leave it (through the history
 * store's BatchWriteItem), in parallel chunks.
 */
async function seed(stores: Stores, doc: DynamoDBDocumentClient, table: string, jobs: readonly AcceptedJob[]) {
  const totals = { indexUnits: 0, historyItems: 0 };
  const seedChunk = async (chunk: readonly AcceptedJob[], offset: number) => {
    await stores.jobs.accept(chunk);
    const at = new Date().toISOString();
    const decided = chunk.map((job, k) => ({ job, fate: fateOf(offset + k) }));
    const outcomes = decided.map(({ job, fate }) => outcomeItem(job, fate, at));
    for (const job of chunk) {
      // The same keys accept() computed (its `at` differs by milliseconds; the sizes do not).
      totals.indexUnits += indexUnitsOf({
        pk: keys.jobPk(job.id),
        sk: keys.acceptedSk,
        ...acceptedIndexKeys(job.id, job.name, job.data, at),
      });
      for (const touch of touchItems(job.id, job.name, job.data, at, 30)) totals.indexUnits += indexUnitsOf(touch);
    }
    for (const item of outcomes) totals.indexUnits += indexUnitsOf(item);
    await putAll(doc, table, outcomes);
    // One history item per job per flush: a job that failed before has an item per flush.
    const flushes = decided.map(({ job, fate }) => historyOf(job, fate, Date.parse(at)));
    for (let f = 0; f < 3; f++) {
      const entries = flushes.flatMap((h) => h[f] ?? []);
      if (entries.length === 0) continue;
      await stores.history.write(entries);
      totals.historyItems += new Set(entries.map((e) => e.jobId)).size;
    }
  };
  for (let i = 0; i < jobs.length; i += SEED_CHUNK * SEED_PARALLEL) {
    await Promise.all(
      Array.from({ length: SEED_PARALLEL }, (_, j) => i + j * SEED_CHUNK)
        .filter((start) => start < jobs.length)
        .map((start) => seedChunk(jobs.slice(start, start + SEED_CHUNK), start)),
    );
    progress('search', `seeded ${Math.min(i + SEED_CHUNK * SEED_PARALLEL, jobs.length)}/${jobs.length} jobs`);
  }
  return totals;
}

/** What happened to the i-th job: mostly completed, some after a failed attempt, 5% dead-lettered of two kinds. */
type Fate = 'completed' | 'retried' | 'poison' | 'missing-user';
function fateOf(i: number): Fate {
  const k = (i * 37) % 100;
  if (k < 5) return k % 2 === 0 ? 'poison' : 'missing-user';
  return k < 25 ? 'retried' : 'completed';
}

function outcomeItem(job: AcceptedJob, fate: Fate, at: string): Record<string, unknown> {
  const outcome = fate === 'poison' || fate === 'missing-user' ? 'dead-lettered' : 'completed';
  const reason =
    fate === 'poison'
      ? 'payload failed validation: age must be a number'
      : fate === 'missing-user'
        ? 'user not found'
        : undefined;
  return {
    pk: keys.jobPk(job.id),
    sk: keys.outcomeSk,
    outcome,
    gen: 1,
    marks: [{ outcome, at, by: 'bench', ...(reason ? { reason } : {}) }],
    ...outcomeIndexKeys(job.id, outcome, at, job.name),
  };
}

/** The job's history, by flush: 1 item with 3 entries (completed), 2 (a retry first), 3 (dead-lettered). */
function historyOf(job: AcceptedJob, fate: Fate, decidedMs: number): HistoryEntry[][] {
  const at = (ms: number) => new Date(decidedMs - ms).toISOString();
  const base = { jobId: job.id, op: job.name, workerId: 'bench' };
  const failed = (attempt: number, ms: number): HistoryEntry[] => [
    { ...base, at: at(ms + 5), type: 'attempt-started', attempt },
    {
      ...base,
      at: at(ms),
      type: 'attempt-failed',
      attempt,
      errorClass:
        fate === 'poison' ? 'PoisonPayloadError' : fate === 'missing-user' ? 'UserNotFoundError' : 'ThrottledError',
      message: fate === 'poison' ? 'age must be a number' : fate === 'missing-user' ? 'user not found' : 'throttled',
      retryable: fate !== 'poison',
    },
  ];
  const enqueued: HistoryEntry = { ...base, at: at(3000), type: 'enqueued' };
  const done: HistoryEntry[] = [
    { ...base, at: at(10), type: 'attempt-started', attempt: fate === 'retried' ? 2 : 1 },
    { ...base, at: at(0), type: 'completed', attempt: 1, durationMs: 10, capacityUnits: 2, result: 'ok' },
  ];
  if (fate === 'completed') return [[enqueued, ...done]];
  if (fate === 'retried') return [[enqueued, ...failed(1, 1000)], done];
  const moved: HistoryEntry = { ...base, at: at(0), type: 'dead-lettered', reason: 'bench', attempts: 3 };
  return [[enqueued, ...failed(1, 2000)], failed(2, 1000), [...failed(3, 10), moved]];
}

async function putAll(doc: DynamoDBDocumentClient, table: string, items: readonly Record<string, unknown>[]) {
  for (let i = 0; i < items.length; i += 25) {
    let pending: Record<string, unknown>[] = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
      pending = (out.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
    }
  }
}
