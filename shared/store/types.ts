// The storage interfaces. The write path, the CLI and the benchmarks see only these; DynamoDB and
// the in-memory store implement them. Nothing above this layer imports the AWS SDK.
import type { StoredEvent, User, UserEvent, UserHead } from '../domain/user.js';
import type { HistoryEntry } from '../lifecycle/history-entry.js';

export interface EventStore {
  /** The event `jobId` wrote for this user (linked or not), strongly consistent: one item. */
  getByJob(userId: string, jobId: string): Promise<StoredEvent | undefined>;
  /** Writes a job's first event for a user; false if the job already has one (another delivery). */
  put(event: UserEvent): Promise<boolean>;
  /**
   * Moves a job's unlinked event to a new version (its job lost the race for `fromVersion`). False
   * if it is no longer at `fromVersion` or has been flagged linked meanwhile.
   */
  rewrite(event: UserEvent, fromVersion: number): Promise<boolean>;
  /** Deletes a job's unlinked event at `version` (its job ended without it); false if it changed. */
  discard(userId: string, jobId: string, version: number): Promise<boolean>;
  /** Flags an event linked before it leaves the head's window; throws if it is not at `version`. */
  markLinked(userId: string, jobId: string, version: number): Promise<void>;
  /** Every stored event of one user, linked or not (operators and tests: reads the whole stream). */
  listUser(userId: string): Promise<StoredEvent[]>;
  /** Every stored event of every user, in no particular order (replay). */
  scanAll(): AsyncIterable<StoredEvent>;
  /** How many event items there are (a full COUNT scan: for stats, not the hot path). */
  count(): Promise<number>;
}

/**
 * Jobs barred from ever linking an event on one user (their job was dead-lettered or purged), and
 * the counter every bar and unbar moves. Kept on the user's head item, so a link, which is
 * conditional on the counter it read, can never overtake a bar: one item, one condition.
 */
export interface Bars {
  seq: number;
  jobs: readonly string[];
}

export const NO_BARS: Bars = { seq: 0, jobs: [] };

/**
 * A bar names the job and the generation its move decided (the generation's start, 0 for the
 * first): a move paused across a redrive leaves a bar of its old generation, which the next one
 * must not take for its own.
 */
export const barEntry = (jobId: string, generation: number) => `${jobId}@${generation}`;

/** The generations of `jobId` barred on a user (entries of other jobs ignored). */
export function barredGenerations(bars: Bars, jobId: string): number[] {
  const prefix = `${jobId}@`;
  return bars.jobs.filter((entry) => entry.startsWith(prefix)).map((entry) => Number(entry.slice(prefix.length)));
}

/** What a bar found: the job is barred now, or its event had already been linked (applied). */
export type BarResult = 'barred' | 'linked';

export interface UserProjectionStore {
  /** The seed's GetItem with a projection expression: just the user's public attributes. */
  getUser(userId: string): Promise<User | undefined>;
  /** The head (projection row plus the write path's bookkeeping), tombstones included, consistent. */
  getHead(userId: string): Promise<UserHead | undefined>;
  /** Users of a department, through the department index. */
  queryByDepartment(department: string, limit: number): Promise<User[]>;
  /** The head and the user's bars, one consistent read: what the write path decides on. */
  readForWrite(userId: string): Promise<{ head: UserHead | undefined; bars: Bars }>;
  /**
   * Links the next event: writes `head` only if the stored head is at `fromVersion` (absent for 0)
   * and its bars are still `bars` (written through unchanged). False when another event was linked
   * first or a bar came in between. The only write that moves a user forward.
   */
  link(head: UserHead, fromVersion: number, bars?: Bars): Promise<boolean>;
  /**
   * Bars `jobId` from ever linking an event on this user, unless the head names it already (then
   * 'linked'). Creates a bare item (no version, no user) when the user does not exist yet.
   */
  bar(userId: string, jobId: string, generation: number): Promise<BarResult>;
  /** Lifts the job's bars, of every generation (a redrive gives the job another chance). */
  unbar(userId: string, jobId: string): Promise<void>;
  /** Unconditional write or delete (replay --rebuild only). */
  overwrite(userId: string, head: UserHead | undefined): Promise<void>;
  scanAll(): AsyncIterable<UserHead>;
  /** Live (not deleted) users (a full COUNT scan: for stats, not the hot path). */
  count(): Promise<number>;
}

/** How a job's generation ended. `purged`: an operator deleted it from the DLQ for good. */
export type JobOutcome = 'completed' | 'dead-lettered' | 'purged';

/** The outcomes `decide` gives; a purge has its own call. */
export type DecidedOutcome = Exclude<JobOutcome, 'purged'>;

/**
 * One decision or redrive in a job's life, in order: the record's append-only trail. A mark's
 * generation is 1 + the redrives before it.
 */
export interface OutcomeMark {
  /** `redriven` closes a dead-lettered generation and opens the next. */
  outcome: JobOutcome | 'redriven';
  at: string;
  by: string;
  reason?: string;
}

/** What a producer accepted: enough to run the job again if Redis loses it. */
export interface AcceptedJob {
  id: string;
  name: string;
  data: unknown;
}

/** A job's record in DynamoDB: the accepted job, and what decided each of its generations. */
export interface JobRecord {
  jobId: string;
  /** Absent when the job was decided but its acceptance not recorded (tables of earlier releases). */
  accepted?: AcceptedJob & { at: string };
  /** 1 until a redrive; each redrive opens the next. */
  gen: number;
  /**
   * The timestamp of the Redis instance the redrive that opened this generation added (absent for
   * generation 1): a failed instance older than it belongs to an earlier generation and is stale.
   */
  genStartedAt?: number;
  /** The current generation's outcome; absent while it runs. */
  outcome?: JobOutcome;
  marks: OutcomeMark[];
}

/** The result of a decision: whether this call decided, and the outcome that stands either way. */
export interface Decision {
  won: boolean;
  outcome: JobOutcome;
  gen: number;
}

/** What a decision records beside its outcome. */
export interface DecideContext {
  /**
   * The job's operation (its name), which files the outcome in the by-operation index; undefined
   * only where the caller cannot know it (the job is then found by state, not by operation).
   */
  op: string | undefined;
  /** Why (a dead-letter move's reason). */
  reason?: string;
  /** Only this generation (a move's read): a StaleGenerationError when the job moved on. */
  gen?: number;
}

/** Which index a job query reads: a user's jobs, or jobs by time within a state. */
export type JobIndexKey =
  | { user: string }
  /** `accepted`: every job, by when it was accepted; an outcome: jobs decided so, by when. */
  | {
      state: 'accepted' | JobOutcome;
      /** Only this operation's jobs (the by-operation index: no reading the state's others). */
      op?: string;
    };

export interface JobQuery {
  by: JobIndexKey;
  /** ISO times, inclusive. */
  from?: string;
  to?: string;
  /** From the page before (opaque). */
  cursor?: string;
  limit: number;
  /** @default 'newest' */
  order?: 'newest' | 'oldest';
}

export interface JobQueryPage {
  /**
   * In the order asked, with the time the index holds them by, and each one's `position`: a cursor
   * that continues right after it (a caller that stops mid-page resumes there).
   */
  jobs: { jobId: string; at: string; position: string }[];
  /** Absent on the last page. */
  cursor?: string;
}

/**
 * The one place a job's outcome is decided: one conditional write per generation, so no stale
 * delivery, expired lock or lost Redis can give a generation a second outcome.
 */
export interface JobRecordStore {
  /** Records jobs as accepted before they go to Redis (idempotent: the same job again is the same item). */
  accept(jobs: readonly AcceptedJob[]): Promise<void>;
  /**
   * Decides the current generation's outcome if it has none: `won` says whether this call decided.
   * `completed` and `dead-lettered` only: a purge goes through `purge`. With `gen`, only that
   * generation: a StaleGenerationError (nothing written) when the job has moved on to another.
   */
  decide(jobId: string, outcome: DecidedOutcome, by: string, context: DecideContext): Promise<Decision>;
  /**
   * Closes a dead-lettered generation and opens the next, whose Redis instance has `startedAt` as
   * its timestamp; false if the job is not dead-lettered.
   */
  reopen(jobId: string, by: string, startedAt: number): Promise<boolean>;
  /** Decides `purged` for a dead-lettered job; false if it is not dead-lettered. */
  purge(jobId: string, by: string): Promise<boolean>;
  get(jobId: string): Promise<JobRecord | undefined>;
  /** Several records by id (those that exist), in no particular order. */
  getMany(jobIds: readonly string[]): Promise<JobRecord[]>;
  /** A page of job ids from the job indexes (see store/job-index.ts), newest first unless asked. */
  queryJobs(query: JobQuery): Promise<JobQueryPage>;
  /** Every record (a scan: operators, the checker and recovery, never the hot path). */
  scanAll(): AsyncIterable<JobRecord>;
  /** The epoch of the Redis data this table's jobs live in (see shared/lifecycle/epoch.ts). */
  readEpoch(queue: string): Promise<string | undefined>;
  /** Sets the epoch if there is none; returns the one that stands. */
  initEpoch(queue: string, epoch: string): Promise<string>;
}

export interface JobHistoryStore {
  /**
   * Writes entries in batches; throws only if some could not be written after retries, a
   * HistoryWriteError naming them when others were (so a retry does not store those twice).
   */
  write(entries: readonly HistoryEntry[]): Promise<void>;
  /** One job's timeline, oldest first. */
  list(jobId: string): Promise<HistoryEntry[]>;
}

/** The table's size without reading it: what `djq stats` shows on every call. */
export interface TableSize {
  /** Every item: events, heads, history entries. */
  items: number;
  sizeBytes: number;
  /** Items in the department index: users with a department (tombstones have none). */
  usersWithDepartment: number;
  /** True when the figures are DynamoDB's own estimate (DescribeTable, refreshed about every six hours). */
  approximate: boolean;
}

export interface TableSizeStore {
  /** One DescribeTable call on DynamoDB, never a scan: costs nothing whatever the table's size. */
  size(): Promise<TableSize>;
}

export interface Stores {
  events: EventStore;
  jobs: JobRecordStore;
  users: UserProjectionStore;
  history: JobHistoryStore;
  table: TableSizeStore;
}
