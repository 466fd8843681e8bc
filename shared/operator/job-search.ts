// Finding jobs, for the console page and `djq find`: by id, user, state, operation, error text,
// time and redrive generation, from DynamoDB's job records (so jobs Redis pruned long ago are
// found too), through the job indexes (store/job-index.ts), with cursor paging. Where a job is
// still undecided, Redis says whether it is waiting, active or delayed.
import { usersOf } from '../store/job-index.js';
import type {
  JobHistoryStore,
  JobIndexKey,
  JobOutcome,
  JobRecord,
  JobRecordStore,
  OutcomeMark,
} from '../store/types.js';

/** What a search can ask for: Redis's states of a running job, and DynamoDB's outcomes. */
export const SEARCH_STATES = ['waiting', 'active', 'delayed', 'completed', 'dead-lettered', 'purged'] as const;
export type SearchState = (typeof SEARCH_STATES)[number];

/** Where a running job is, as Redis sees it; 'unknown' when Redis no longer holds it. */
export type QueueState = 'waiting' | 'active' | 'delayed' | 'failed' | 'completed' | 'unknown';

export interface JobFilter {
  jobId?: string;
  userId?: string;
  state?: SearchState;
  /** The operation (job name), e.g. create-user. */
  op?: string;
  /**
   * Text in a dead-letter reason, or in the error class or message of a failed attempt of a job
   * that was dead-lettered, case-insensitive.
   */
  error?: string;
  /** ISO times, inclusive: when the job was accepted, or for an outcome state, when it was decided. */
  from?: string;
  to?: string;
  /** The redrive generation (1 until the first redrive). */
  gen?: number;
}

export interface JobSummary {
  jobId: string;
  op?: string;
  /** The outcome, or for a running job where Redis holds it. */
  state: JobOutcome | QueueState;
  gen: number;
  acceptedAt?: string;
  decidedAt?: string;
  /** The last dead-letter reason, if it was ever dead-lettered. */
  reason?: string;
  users: string[];
  marks: OutcomeMark[];
}

export interface SearchPage {
  jobs: JobSummary[];
  /** Continue with this; absent when nothing more matches. */
  cursor?: string;
  /** Index entries read for this page (a narrow filter reads many for few matches). */
  scanned: number;
}

export interface JobSearchDeps {
  records: JobRecordStore;
  /** Read for an error filter the dead-letter reasons do not answer (a reason holds the message only). */
  history: Pick<JobHistoryStore, 'list'>;
  /** Where Redis holds a job (every shard asked); 'unknown' if nowhere. */
  queueState(jobId: string): Promise<QueueState>;
}

export interface SearchOptions {
  /** @default 50 */
  limit?: number;
  cursor?: string;
  /** @default 'newest' */
  order?: 'newest' | 'oldest';
  /**
   * At most this many index entries read per call: a filter few jobs match returns a short page
   * with a cursor rather than reading the whole table. @default 2000
   */
  budget?: number;
}

const OUTCOMES: readonly string[] = ['completed', 'dead-lettered', 'purged'];
/** Records matched at once (each may read its history): a page's reads overlap, within reason. */
const MATCH_PARALLEL = 16;

/** The reason of the job's last dead-letter move. */
export function lastReason(marks: readonly OutcomeMark[]): string | undefined {
  return marks.findLast((m) => m.outcome === 'dead-lettered')?.reason;
}

export class JobSearch {
  constructor(private readonly deps: JobSearchDeps) {}

  async search(filter: JobFilter, options: SearchOptions = {}): Promise<SearchPage> {
    const limit = options.limit ?? 50;
    if (filter.jobId !== undefined) return this.byId(filter);
    const by = indexFor(filter);
    const residual =
      (filter.op !== undefined && filter.userId !== undefined) ||
      filter.error !== undefined ||
      filter.gen !== undefined ||
      (filter.userId !== undefined && filter.state !== undefined) ||
      (filter.state !== undefined && !OUTCOMES.includes(filter.state));
    const budget = options.budget ?? 2000;
    const jobs: JobSummary[] = [];
    let cursor = options.cursor;
    let scanned = 0;
    while (jobs.length < limit && scanned < budget) {
      const page = await this.deps.records.queryJobs({
        by,
        // A filter the index does not hold drops most entries read: read larger pages, fewer rounds
        // (less larger for an error filter, whose matching may read a history per record).
        limit: Math.min(Math.max(limit, 25) * (residual ? (filter.error !== undefined ? 2 : 4) : 1), budget - scanned),
        order: options.order ?? 'newest',
        ...(filter.from ? { from: filter.from } : {}),
        ...(filter.to ? { to: filter.to } : {}),
        ...(cursor ? { cursor } : {}),
      });
      const records = new Map(
        (await this.deps.records.getMany(page.jobs.map((j) => j.jobId))).map((r) => [r.jobId, r]),
      );
      const taken = await this.takeMatches(page.jobs, records, filter, limit - jobs.length, page.cursor === undefined);
      jobs.push(...taken.jobs);
      scanned += taken.read;
      // Full: a cursor only if more may match (the rest of this page, or pages beyond it).
      if (taken.stoppedAt !== undefined) return { jobs, scanned, ...(taken.more ? { cursor: taken.stoppedAt } : {}) };
      if (page.cursor === undefined) return { jobs, scanned };
      cursor = page.cursor;
    }
    return { jobs, scanned, ...(cursor ? { cursor } : {}) };
  }

  /**
   * The first `wanted` matches of a page's entries, in order, matched MATCH_PARALLEL at once (an
   * error filter reads a dead-lettered job's history, one Query each) and no further than needed.
   * `stoppedAt` is the position of the entry that filled the page; `more`, whether anything after it
   * may match (looked for in the rest of the page only when it is the `last` page).
   */
  private async takeMatches(
    entries: readonly { jobId: string; position: string }[],
    records: ReadonlyMap<string, JobRecord>,
    filter: JobFilter,
    wanted: number,
    last: boolean,
  ): Promise<{ jobs: JobSummary[]; read: number; stoppedAt?: string; more: boolean }> {
    const jobs: JobSummary[] = [];
    const match = (entry: { jobId: string }) => {
      const record = records.get(entry.jobId);
      return record ? this.matching(record, filter) : Promise.resolve(undefined);
    };
    for (let i = 0; i < entries.length; i += MATCH_PARALLEL) {
      const chunk = entries.slice(i, i + MATCH_PARALLEL);
      const matches = await Promise.all(chunk.map(match));
      for (const [k, summary] of matches.entries()) {
        if (summary) jobs.push(summary);
        if (jobs.length < wanted) continue;
        const read = i + k + 1;
        const stoppedAt = (chunk[k] as { position: string }).position;
        if (!last) return { jobs, read, stoppedAt, more: true };
        const inChunk = matches.slice(k + 1).some((m) => m !== undefined);
        return {
          jobs,
          read,
          stoppedAt,
          more: inChunk || (await this.anyMatching(entries.slice(i + MATCH_PARALLEL), match)),
        };
      }
    }
    return { jobs, read: entries.length, more: false };
  }

  /** Whether any of the entries matches, MATCH_PARALLEL at a time, stopping at the first chunk with one. */
  private async anyMatching(
    entries: readonly { jobId: string }[],
    match: (entry: { jobId: string }) => Promise<JobSummary | undefined>,
  ): Promise<boolean> {
    for (let i = 0; i < entries.length; i += MATCH_PARALLEL) {
      const matches = await Promise.all(entries.slice(i, i + MATCH_PARALLEL).map(match));
      if (matches.some((m) => m !== undefined)) return true;
    }
    return false;
  }

  /** Every job that touched a user, oldest first (every page). */
  async allForUser(userId: string, filter: Omit<JobFilter, 'userId'> = {}): Promise<JobSummary[]> {
    const all: JobSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.search(
        { ...filter, userId },
        { order: 'oldest', limit: 200, ...(cursor ? { cursor } : {}) },
      );
      all.push(...page.jobs);
      cursor = page.cursor;
    } while (cursor);
    return all;
  }

  /** One job's summary whatever the filter says (undefined when DynamoDB has no record of it). */
  async summary(jobId: string): Promise<JobSummary | undefined> {
    const record = await this.deps.records.get(jobId);
    return record && this.summarize(record);
  }

  private async byId(filter: JobFilter): Promise<SearchPage> {
    const record = await this.deps.records.get(filter.jobId as string);
    const summary = record && (await this.matching(record, filter));
    return { jobs: summary ? [summary] : [], scanned: record ? 1 : 0 };
  }

  private async matching(record: JobRecord, filter: JobFilter): Promise<JobSummary | undefined> {
    if (filter.op !== undefined && record.accepted?.name !== filter.op) return undefined;
    if (filter.gen !== undefined && record.gen !== filter.gen) return undefined;
    if (filter.error !== undefined && !(await this.failedWith(record, filter.error.toLowerCase()))) return undefined;
    if (filter.userId !== undefined && filter.jobId !== undefined) {
      const accepted = record.accepted;
      if (!accepted || !usersOf(accepted.name, accepted.data).includes(filter.userId)) return undefined;
    }
    const summary = await this.summarize(record);
    if (filter.state !== undefined && summary.state !== filter.state) return undefined;
    return summary;
  }

  /** The reasons first (on the record); the attempts' errors (one history read) only for a dead-lettered job. */
  private async failedWith(record: JobRecord, needle: string): Promise<boolean> {
    if (record.marks.some((m) => m.reason?.toLowerCase().includes(needle))) return true;
    if (!record.marks.some((m) => m.outcome === 'dead-lettered')) return false;
    const entries = await this.deps.history.list(record.jobId);
    return entries.some(
      (e) =>
        e.type === 'attempt-failed' &&
        (e.errorClass.toLowerCase().includes(needle) || e.message.toLowerCase().includes(needle)),
    );
  }

  private async summarize(record: JobRecord): Promise<JobSummary> {
    const accepted = record.accepted;
    const reason = lastReason(record.marks);
    const decided = record.outcome ? record.marks.findLast((m) => m.outcome === record.outcome) : undefined;
    return {
      jobId: record.jobId,
      ...(accepted ? { op: accepted.name, acceptedAt: accepted.at } : {}),
      state: record.outcome ?? (await this.deps.queueState(record.jobId)),
      gen: record.gen,
      ...(decided ? { decidedAt: decided.at } : {}),
      ...(reason !== undefined ? { reason } : {}),
      users: accepted ? usersOf(accepted.name, accepted.data) : [],
      marks: record.marks,
    };
  }
}

/**
 * The index a filter reads: the user's, else the outcome's or every job by acceptance time, within
 * the operation when one is asked for (the by-operation index holds it: no reading the others).
 */
function indexFor(filter: JobFilter): JobIndexKey {
  if (filter.userId !== undefined) return { user: filter.userId };
  const op = filter.op !== undefined ? { op: filter.op } : {};
  if (filter.state !== undefined && OUTCOMES.includes(filter.state))
    return { state: filter.state as JobOutcome, ...op };
  return { state: 'accepted', ...op };
}

/** BullMQ's state of a job, in the console's words. */
export function queueStateOf(state: string): QueueState {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'active':
    case 'delayed':
    case 'failed':
    case 'completed':
      return state;
    default:
      return 'unknown';
  }
}
