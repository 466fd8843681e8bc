// In-memory stores with the same contracts as the DynamoDB ones (conditional append, version-guarded
// projection). For unit tests and the queue-overhead benchmark, never for production.
import type { StoredEvent, User, UserEvent, UserHead } from '../domain/user.js';
import type { HistoryEntry } from '../lifecycle/history.js';
import { StaleGenerationError } from './errors.js';
import { usersOf } from './job-index.js';
import {
  type AcceptedJob,
  type BarResult,
  type Bars,
  barEntry,
  type DecideContext,
  type DecidedOutcome,
  type Decision,
  type EventStore,
  type JobHistoryStore,
  type JobQuery,
  type JobQueryPage,
  type JobRecord,
  type JobRecordStore,
  NO_BARS,
  type Stores,
  type TableSize,
  type TableSizeStore,
  type UserProjectionStore,
} from './types.js';

/**
 * Stored values are deep-frozen copies, so reads can hand them out without copying (as cheap as a
 * store can be, for the queue-overhead benchmark) while a caller that mutates one still fails loudly.
 * What the stores hold is plain data (objects, arrays, strings, numbers), so a copy made and frozen
 * in one pass does; structuredClone plus a second pass to freeze was 15% of the in-memory pipeline's
 * CPU (npm run bench, worker profile), a cost of the stand-in, not of the pipeline it stands in for.
 */
function frozenCopy<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy)) as T;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) copy[key] = frozenCopy(field);
  return Object.freeze(copy) as T;
}

export class MemoryEventStore implements EventStore {
  /** userId → jobId → event. */
  readonly byUser = new Map<string, Map<string, StoredEvent>>();

  private of(userId: string): Map<string, StoredEvent> {
    let events = this.byUser.get(userId);
    if (!events) {
      events = new Map();
      this.byUser.set(userId, events);
    }
    return events;
  }
  async getByJob(userId: string, jobId: string) {
    return this.byUser.get(userId)?.get(jobId);
  }
  async put(event: UserEvent) {
    const events = this.of(event.userId);
    if (events.has(event.jobId)) return false;
    events.set(event.jobId, frozenCopy(event));
    return true;
  }
  async rewrite(event: UserEvent, fromVersion: number) {
    const events = this.of(event.userId);
    const current = events.get(event.jobId);
    if (!current || current.version !== fromVersion || current.linked) return false;
    events.set(event.jobId, frozenCopy(event));
    return true;
  }
  async discard(userId: string, jobId: string, version: number) {
    const current = this.byUser.get(userId)?.get(jobId);
    if (!current || current.version !== version || current.linked) return false;
    this.byUser.get(userId)?.delete(jobId);
    return true;
  }
  async markLinked(userId: string, jobId: string, version: number) {
    const current = this.byUser.get(userId)?.get(jobId);
    if (current?.version !== version) throw new Error(`user ${userId}: no event of job ${jobId} at version ${version}`);
    this.of(userId).set(jobId, frozenCopy({ ...current, linked: true }));
  }
  async listUser(userId: string) {
    return [...(this.byUser.get(userId)?.values() ?? [])].sort((a, b) => a.version - b.version);
  }
  async *scanAll() {
    for (const events of this.byUser.values()) yield* events.values();
  }
  async count() {
    let n = 0;
    for (const events of this.byUser.values()) n += events.size;
    return n;
  }
}

export class MemoryUserProjection implements UserProjectionStore {
  readonly rows = new Map<string, UserHead>();

  async getUser(userId: string): Promise<User | undefined> {
    const row = this.rows.get(userId);
    return row?.user;
  }
  async getHead(userId: string) {
    return this.rows.get(userId);
  }
  readonly bars = new Map<string, Bars>();
  async readForWrite(userId: string) {
    return { head: this.rows.get(userId), bars: this.bars.get(userId) ?? NO_BARS };
  }
  async bar(userId: string, jobId: string, generation: number): Promise<BarResult> {
    if (this.rows.get(userId)?.recentJobs.includes(jobId)) return 'linked';
    const bars = this.bars.get(userId) ?? NO_BARS;
    this.bars.set(userId, { seq: bars.seq + 1, jobs: [...new Set([...bars.jobs, barEntry(jobId, generation)])] });
    return 'barred';
  }
  async unbar(userId: string, jobId: string) {
    const bars = this.bars.get(userId);
    if (bars) this.bars.set(userId, { seq: bars.seq + 1, jobs: bars.jobs.filter((j) => !j.startsWith(`${jobId}@`)) });
  }
  async queryByDepartment(department: string, limit: number) {
    const users: User[] = [];
    for (const row of this.rows.values()) {
      if (row.user?.department === department) users.push(row.user);
      if (users.length >= limit) break;
    }
    return users;
  }
  async link(head: UserHead, fromVersion: number, bars: Bars = NO_BARS) {
    const current = this.rows.get(head.userId);
    if ((current?.version ?? 0) !== fromVersion) return false;
    if ((this.bars.get(head.userId) ?? NO_BARS).seq !== bars.seq) return false;
    this.rows.set(head.userId, frozenCopy(head));
    return true;
  }
  async overwrite(userId: string, head: UserHead | undefined) {
    if (head) this.rows.set(userId, frozenCopy(head));
    else this.rows.delete(userId);
  }
  async *scanAll() {
    yield* this.rows.values();
  }
  async count() {
    return [...this.rows.values()].filter((r) => !r.deleted).length;
  }
}

export class MemoryJobHistory implements JobHistoryStore {
  readonly entries: HistoryEntry[] = [];
  async write(entries: readonly HistoryEntry[]) {
    this.entries.push(...frozenCopy(entries));
  }
  async list(jobId: string) {
    return this.entries.filter((e) => e.jobId === jobId);
  }
}

export class MemoryJobRecords implements JobRecordStore {
  readonly records = new Map<string, JobRecord>();
  readonly epochs = new Map<string, string>();
  /** The operation each decided job's outcome is filed under, as DynamoDB's by-operation index has it. */
  private readonly filedOp = new Map<string, string | undefined>();

  async accept(jobs: readonly AcceptedJob[]) {
    const at = new Date().toISOString();
    for (const job of jobs) {
      const record = this.records.get(job.id) ?? { jobId: job.id, gen: 1, marks: [] };
      this.records.set(job.id, { ...record, accepted: frozenCopy({ ...job, at }) });
    }
  }
  async decide(
    jobId: string,
    outcome: DecidedOutcome,
    by: string,
    { op, reason, gen }: DecideContext,
  ): Promise<Decision> {
    const record = this.records.get(jobId) ?? { jobId, gen: 1, marks: [] };
    if (gen !== undefined && record.gen !== gen) throw new StaleGenerationError(jobId, gen, record.gen);
    if (record.outcome) return { won: false, outcome: record.outcome, gen: record.gen };
    const mark = { outcome, at: new Date().toISOString(), by, ...(reason ? { reason } : {}) };
    this.records.set(jobId, { ...record, outcome, marks: [...record.marks, mark] });
    this.filedOp.set(jobId, op);
    return { won: true, outcome, gen: record.gen };
  }
  async reopen(jobId: string, by: string, startedAt: number) {
    const record = this.records.get(jobId);
    if (record?.outcome !== 'dead-lettered') return false;
    const { outcome: _closed, ...open } = record;
    const mark = { outcome: 'redriven' as const, at: new Date().toISOString(), by };
    this.records.set(jobId, { ...open, gen: record.gen + 1, genStartedAt: startedAt, marks: [...record.marks, mark] });
    this.filedOp.delete(jobId);
    return true;
  }
  async purge(jobId: string, by: string) {
    const record = this.records.get(jobId);
    if (record?.outcome !== 'dead-lettered') return false;
    const mark = { outcome: 'purged' as const, at: new Date().toISOString(), by };
    this.records.set(jobId, { ...record, outcome: 'purged', marks: [...record.marks, mark] });
    this.filedOp.set(jobId, record.accepted?.name);
    return true;
  }
  async get(jobId: string) {
    return this.records.get(jobId);
  }
  async getMany(jobIds: readonly string[]) {
    return [...new Set(jobIds)].flatMap((id) => this.records.get(id) ?? []);
  }
  /** The same answers as the DynamoDB indexes give, computed from the records. */
  async queryJobs(query: JobQuery): Promise<JobQueryPage> {
    const indexed = [...this.records.values()].flatMap((record) => {
      const at = this.indexedAt(record, query);
      return at === undefined ? [] : [{ jobId: record.jobId, at, sk: `${at}#${record.jobId}` }];
    });
    const newest = query.order !== 'oldest';
    const inRange = indexed
      .filter((j) => (query.from === undefined || j.sk >= query.from) && (query.to === undefined || j.at <= query.to))
      .filter((j) => query.cursor === undefined || (newest ? j.sk < query.cursor : j.sk > query.cursor))
      .sort((a, b) => (a.sk < b.sk ? -1 : 1));
    if (newest) inRange.reverse();
    const shown = inRange.slice(0, query.limit);
    const last = shown.at(-1);
    return {
      jobs: shown.map(({ jobId, at, sk }) => ({ jobId, at, position: sk })),
      ...(inRange.length > query.limit && last ? { cursor: last.sk } : {}),
    };
  }
  private indexedAt(record: JobRecord, query: JobQuery): string | undefined {
    if ('user' in query.by) {
      const accepted = record.accepted;
      return accepted && usersOf(accepted.name, accepted.data).includes(query.by.user) ? accepted.at : undefined;
    }
    const { op, state } = query.by;
    if (state === 'accepted') return op === undefined || record.accepted?.name === op ? record.accepted?.at : undefined;
    if (op !== undefined && this.filedOp.get(record.jobId) !== op) return undefined;
    return record.outcome === query.by.state ? record.marks.at(-1)?.at : undefined;
  }
  async *scanAll() {
    yield* this.records.values();
  }
  async readEpoch(queue: string) {
    return this.epochs.get(queue);
  }
  async initEpoch(queue: string, epoch: string) {
    if (!this.epochs.has(queue)) this.epochs.set(queue, epoch);
    return this.epochs.get(queue) as string;
  }
}

/** Counted exactly (it is cheap in memory); the sizes in bytes are not kept. */
export class MemoryTableSize implements TableSizeStore {
  constructor(
    private readonly stores: { events: MemoryEventStore; users: MemoryUserProjection; history: MemoryJobHistory },
  ) {}

  async size(): Promise<TableSize> {
    const { events, users, history } = this.stores;
    const heads = [...users.rows.values()];
    return {
      items: (await events.count()) + heads.length + history.entries.length,
      sizeBytes: 0,
      usersWithDepartment: heads.filter((h) => h.user?.department !== undefined).length,
      approximate: false,
    };
  }
}

export function createMemoryStores(): Stores & {
  events: MemoryEventStore;
  users: MemoryUserProjection;
  history: MemoryJobHistory;
  jobs: MemoryJobRecords;
} {
  const stores = {
    events: new MemoryEventStore(),
    users: new MemoryUserProjection(),
    history: new MemoryJobHistory(),
    jobs: new MemoryJobRecords(),
  };
  return { ...stores, table: new MemoryTableSize(stores) };
}
