// The User aggregate: its events and the fold that turns them into the current state.
// The users projection in DynamoDB is exactly `foldUser(events)`; replay --verify checks that.
import type { NewUser } from './jobs.js';

export interface User {
  id: string;
  name: string;
  email: string;
  age: number;
  department?: string;
  createdAt: string;
  updatedAt: string;
}

interface EventBase {
  userId: string;
  /** 1 for the first event of the aggregate, then +1 per event: the optimistic-concurrency slot. */
  version: number;
  /** The job (idempotency key) that caused the event: at most one event per (job, aggregate). */
  jobId: string;
  at: string;
}

export type UserEvent =
  | (EventBase & { type: 'UserCreated'; data: NewUser })
  | (EventBase & { type: 'UserUpdated'; data: { age?: number; department?: string } })
  | (EventBase & { type: 'UserDeleted'; data: Record<string, never> });

export type UserEventType = UserEvent['type'];

/** An event item as stored: `linked` is set once the event has left the head's recent-jobs window. */
export type StoredEvent = UserEvent & { linked?: boolean };

/** Current state of an aggregate: the user (absent once deleted) and the version it reflects. */
export interface UserState {
  userId: string;
  version: number;
  deleted: boolean;
  user?: User;
}

/**
 * The aggregate's head: the projection row is also the write path's concurrency token. Linking an
 * event is one conditional write of the head from version v-1 to v, so the head is always exactly
 * the fold of the linked events (see "How exactly-once works" in docs/architecture.md).
 */
export interface UserHead extends UserState {
  /** Jobs of the newest linked events, oldest first: the last one is the job of `version`. */
  recentJobs: string[];
  /** The job whose event created the user: a create of the same id by another job is final. */
  createdBy: string;
}

/**
 * How many of the newest links the head names. An event that leaves this window is flagged `linked`
 * first (by the writer whose link pushes it out), so "is job X's event part of the stream?" is
 * answered by the head and that one event item, whatever the stream's length.
 */
export const RECENT_JOBS = 4;

/** The head after linking `event` (which must be the next version). */
export function applyToHead(head: UserHead | undefined, event: UserEvent): UserHead {
  const expected = (head?.version ?? 0) + 1;
  if (event.userId !== (head?.userId ?? event.userId))
    throw new Error(`event ${event.version} belongs to ${event.userId}, not ${head?.userId}`);
  if (event.version !== expected)
    throw new Error(`user ${event.userId}: expected version ${expected}, got ${event.version}`);
  const state = applyEvent(head, event);
  return {
    userId: state.userId,
    version: state.version,
    deleted: state.deleted,
    ...(state.user ? { user: state.user } : {}),
    recentJobs: [...(head?.recentJobs ?? []), event.jobId].slice(-RECENT_JOBS),
    createdBy: head?.createdBy ?? event.jobId,
  };
}

/** The job the head names at `version`, or undefined when that version is outside its window. */
export function jobAtVersion(head: UserHead | undefined, version: number): string | undefined {
  if (!head) return undefined;
  const index = version - (head.version - head.recentJobs.length + 1);
  return index >= 0 && index < head.recentJobs.length ? head.recentJobs[index] : undefined;
}

/** The (version, job) pairs that are in `before`'s window and not in `after`'s: they must be flagged first. */
export function droppedFromWindow(before: UserHead | undefined, after: UserHead): { version: number; jobId: string }[] {
  if (!before) return [];
  const firstKept = after.version - after.recentJobs.length + 1;
  const first = before.version - before.recentJobs.length + 1;
  const dropped: { version: number; jobId: string }[] = [];
  for (let v = first; v < firstKept && v <= before.version; v++) {
    dropped.push({ version: v, jobId: before.recentJobs[v - first] as string });
  }
  return dropped;
}

/** Folds a whole stream (oldest first) into its head; throws if the versions are not 1, 2, 3… */
export function foldUser(userId: string, events: readonly UserEvent[]): UserHead | undefined {
  let head: UserHead | undefined;
  for (const event of events) {
    if (event.userId !== userId) throw new Error(`event ${event.version} belongs to ${event.userId}, not ${userId}`);
    head = applyToHead(head, event);
  }
  return head;
}

/**
 * Splits a user's stored events into the stream (linked: flagged, or named by the head's window;
 * oldest first) and the rest: events whose job lost the race for their version and moved on, or
 * never came back (they are never part of the state).
 */
export function linkedStream(
  events: readonly StoredEvent[],
  head: UserHead | undefined,
): { stream: UserEvent[]; unlinked: StoredEvent[] } {
  const stream: UserEvent[] = [];
  const unlinked: StoredEvent[] = [];
  for (const event of events) {
    if (event.linked || jobAtVersion(head, event.version) === event.jobId) {
      const { linked: _linked, ...plain } = event;
      stream.push(plain as UserEvent);
    } else unlinked.push(event);
  }
  stream.sort((a, b) => a.version - b.version);
  return { stream, unlinked };
}

function applyEvent(state: UserState | undefined, event: UserEvent): UserState {
  switch (event.type) {
    case 'UserCreated': {
      const { id, name, email, age, department } = event.data;
      const user: User = { id, name, email, age, createdAt: event.at, updatedAt: event.at };
      if (department !== undefined) user.department = department;
      return { userId: event.userId, version: event.version, deleted: false, user };
    }
    case 'UserUpdated': {
      if (!state?.user) throw new Error(`user ${event.userId}: update at version ${event.version} before create`);
      const user: User = { ...state.user, updatedAt: event.at };
      if (event.data.age !== undefined) user.age = event.data.age;
      if (event.data.department !== undefined) user.department = event.data.department;
      return { ...state, version: event.version, user };
    }
    case 'UserDeleted':
      return { userId: event.userId, version: event.version, deleted: true };
  }
}

/** Equality of two heads: the state and the write path's bookkeeping (window, creator). */
export function sameHead(a: UserHead | undefined, b: UserHead | undefined): boolean {
  if (!sameState(a, b)) return false;
  if (!a || !b) return true;
  return a.createdBy === b.createdBy && JSON.stringify(a.recentJobs) === JSON.stringify(b.recentJobs);
}

/** Structural equality of two states, for the replay verifier. */
export function sameState(a: UserState | undefined, b: UserState | undefined): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

function normalise(state: UserState | undefined) {
  if (!state) return null;
  const u = state.user;
  return {
    userId: state.userId,
    version: state.version,
    deleted: state.deleted,
    user: u
      ? {
          id: u.id,
          name: u.name,
          email: u.email,
          age: u.age,
          department: u.department ?? null,
          createdAt: u.createdAt,
          updatedAt: u.updatedAt,
        }
      : null,
  };
}
