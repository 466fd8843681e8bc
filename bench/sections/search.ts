// The console's search on a table of many job records (issue 20's targets): `jobs` jobs written as
// the producer and the workers leave them (an ACCEPTED item through the store's own batch writes,
// an OUTCOME item as a decision writes it, in batches: set-up, not measured), then, one call at a
// time, a lookup by job id, a user's jobs, and a filtered page of 50 (a state the index holds and
// an operation it does not), each timed. Also the index write units per job: dynalite reports no
// index writes, so they are counted from the items written, by DynamoDB's rule (one write unit per
// KB of index entry per index the item is in; a keys-only entry is its keys and 100 bytes).
import { randomUUID } from 'node:crypto';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { keys } from '../../shared/dynamo/table.js';
import { type JobFilter, JobSearch } from '../../shared/operator/job-search.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { acceptedIndexKeys, outcomeIndexKeys, touchItems } from '../../shared/store/job-index.js';
import type { AcceptedJob } from '../../shared/store/types.js';
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
  /** Index write units of accepting and deciding one job (no redrive, no purge), from the items written. */
  indexWriteUnitsPerJob: number;
}

export const SEARCH_TARGETS_MS = { byJobId: 100, byUser: 100, filteredPage: 300 } as const;

const DEAD_LETTER_SHARE = 0.05;
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
    (item.gsi3pk ? indexEntryUnits(item, 'gsi3pk', 'gsi3sk') : 0)
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
  const table = config.DYNAMODB_TABLE_NAME;
  const dynamo = createDynamoClients(config);
  const stores = createDynamoStores(dynamo, config);
  const users = Array.from({ length: Math.max(10, Math.floor(options.jobs / 10)) }, () => randomUUID());
  const jobs = Array.from({ length: options.jobs }, (_, i) => jobOf(i, users));

  // Set-up: ACCEPTED (and TOUCHES) items through the store, OUTCOME items as `decide` writes them.
  const seedStarted = performance.now();
  let indexUnits = 0;
  const seedChunk = async (chunk: readonly AcceptedJob[]) => {
    await stores.jobs.accept(chunk);
    const at = new Date().toISOString();
    const outcomes = chunk.map((job, k) => {
      const outcome = (k * 37) % Math.round(1 / DEAD_LETTER_SHARE) === 0 ? 'dead-lettered' : 'completed';
      const mark = { outcome, at, by: 'bench', ...(outcome === 'dead-lettered' ? { reason: 'bench: failed' } : {}) };
      return {
        pk: keys.jobPk(job.id),
        sk: keys.outcomeSk,
        outcome,
        gen: 1,
        marks: [mark],
        ...outcomeIndexKeys(job.id, outcome, at),
      };
    });
    for (const job of chunk) {
      // The same keys accept() computed (its `at` differs by milliseconds; the sizes do not).
      indexUnits += indexUnitsOf({
        pk: keys.jobPk(job.id),
        sk: keys.acceptedSk,
        ...acceptedIndexKeys(job.id, job.name, job.data, at),
      });
      for (const touch of touchItems(job.id, job.name, job.data, at)) indexUnits += indexUnitsOf(touch);
    }
    for (const item of outcomes) indexUnits += indexUnitsOf(item);
    for (let i = 0; i < outcomes.length; i += 25) {
      let pending: Record<string, unknown>[] = outcomes.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
      while (pending.length > 0) {
        const out = await dynamo.doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (out.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
      }
    }
  };
  for (let i = 0; i < jobs.length; i += SEED_CHUNK * SEED_PARALLEL) {
    await Promise.all(
      Array.from({ length: SEED_PARALLEL }, (_, j) => jobs.slice(i + j * SEED_CHUNK, i + (j + 1) * SEED_CHUNK))
        .filter((chunk) => chunk.length > 0)
        .map(seedChunk),
    );
    progress('search', `seeded ${Math.min(i + SEED_CHUNK * SEED_PARALLEL, jobs.length)}/${jobs.length} jobs`);
  }
  const seedSeconds = round((performance.now() - seedStarted) / 1000, 1);

  // Every job is decided: the search never asks Redis.
  const search = new JobSearch({ records: stores.jobs, history: stores.history, queueState: async () => 'unknown' });
  const pick = (i: number) => jobs[(i * 7919) % jobs.length]?.id ?? '';
  const pickUser = (i: number) => users[(i * 104_729) % users.length] ?? '';
  const filter: JobFilter = { state: 'completed', op: 'get-user' };
  // Unmeasured warm-up: connections, JIT.
  for (let i = 0; i < 5; i++) {
    await search.search({ jobId: pick(i) });
    await search.search({ userId: pickUser(i) }, { limit: 50 });
    await search.search(filter, { limit: 50 });
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
  // A different page each time: the cursor of the one before, from the top again at the end.
  let cursor: string | undefined;
  const filtered = await timed(options.samples, async () => {
    const page = await search.search(filter, { limit: 50, ...(cursor ? { cursor } : {}) });
    cursor = page.cursor;
    return page.jobs.length;
  });
  dynamo.close();
  return {
    jobs: options.jobs,
    users: users.length,
    seedSeconds,
    byJobId: lookup(byJobId, SEARCH_TARGETS_MS.byJobId),
    byUser: lookup(byUser, SEARCH_TARGETS_MS.byUser),
    filteredPage: { ...lookup(filtered, SEARCH_TARGETS_MS.filteredPage), filter: 'state=completed, op=get-user' },
    indexWriteUnitsPerJob: round(indexUnits / options.jobs, 3),
  };
}
