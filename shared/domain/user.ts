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

/** Current state of an aggregate: the user (absent once deleted) and the version it reflects. */
export interface UserState {
  userId: string;
  version: number;
  deleted: boolean;
  user?: User;
}

export function foldUser(userId: string, events: readonly UserEvent[]): UserState | undefined {
  let state: UserState | undefined;
  for (const event of events) {
    if (event.userId !== userId) throw new Error(`event ${event.version} belongs to ${event.userId}, not ${userId}`);
    const expected = (state?.version ?? 0) + 1;
    if (event.version !== expected)
      throw new Error(`user ${userId}: expected version ${expected}, got ${event.version}`);
    state = applyEvent(state, event);
  }
  return state;
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
