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

export interface UserProjectionStore {
  /** The seed's GetItem with a projection expression: just the user's public attributes. */
  getUser(userId: string): Promise<User | undefined>;
  /** The head (projection row plus the write path's bookkeeping), tombstones included, consistent. */
  getHead(userId: string): Promise<UserHead | undefined>;
  /** Users of a department, through the department index. */
  queryByDepartment(department: string, limit: number): Promise<User[]>;
  /**
   * Links the next event: writes `head` only if the stored head is at `fromVersion` (absent for 0).
   * False when another event was linked first. The only write that moves a user forward.
   */
  link(head: UserHead, fromVersion: number): Promise<boolean>;
  /** Unconditional write or delete (replay --rebuild only). */
  overwrite(userId: string, head: UserHead | undefined): Promise<void>;
  scanAll(): AsyncIterable<UserHead>;
  /** Live (not deleted) users (a full COUNT scan: for stats, not the hot path). */
  count(): Promise<number>;
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
  users: UserProjectionStore;
  history: JobHistoryStore;
  table: TableSizeStore;
}
