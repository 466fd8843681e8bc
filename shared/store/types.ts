// The storage interfaces. The write path, the CLI and the benchmarks see only these; DynamoDB and
// the in-memory store implement them. Nothing above this layer imports the AWS SDK.
import type { User, UserEvent, UserState } from '../domain/user.js';
import type { HistoryEntry } from '../lifecycle/history.js';

export interface EventStore {
  /** Every event of one user, oldest first, read strongly consistent. */
  load(userId: string): Promise<UserEvent[]>;
  /** One event by version, strongly consistent. */
  get(userId: string, version: number): Promise<UserEvent | undefined>;
  /** Conditional append: throws VersionConflictError when the version slot is taken. */
  append(event: UserEvent): Promise<void>;
  /** Every event of every user, in no particular order (replay). */
  scanAll(): AsyncIterable<UserEvent>;
  /** How many events there are (a full COUNT scan: for stats, not the hot path). */
  count(): Promise<number>;
}

export interface UserProjectionStore {
  /** The seed's GetItem with a projection expression: just the user's public attributes. */
  getUser(userId: string): Promise<User | undefined>;
  /** The full projection row, tombstones included (replay, repair). */
  getState(userId: string): Promise<UserState | undefined>;
  /** Users of a department, through the department index. */
  queryByDepartment(department: string, limit: number): Promise<User[]>;
  /**
   * Version-guarded write of a folded state: writes only if the stored version is lower, so replays,
   * duplicates and out-of-order retries are no-ops. Returns whether it wrote.
   */
  put(state: UserState): Promise<boolean>;
  /** Unconditional write or delete (replay --rebuild only). */
  overwrite(userId: string, state: UserState | undefined): Promise<void>;
  scanAll(): AsyncIterable<UserState>;
  /** Live (not deleted) users (a full COUNT scan: for stats, not the hot path). */
  count(): Promise<number>;
}

export interface JobHistoryStore {
  /** Writes entries in batches; throws only if some could not be written after retries. */
  write(entries: readonly HistoryEntry[]): Promise<void>;
  /** One job's timeline, oldest first. */
  list(jobId: string): Promise<HistoryEntry[]>;
}

export interface Stores {
  events: EventStore;
  users: UserProjectionStore;
  history: JobHistoryStore;
}
