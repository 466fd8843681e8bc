// In-memory stores with the same contracts as the DynamoDB ones (conditional append, version-guarded
// projection). For unit tests and the queue-overhead benchmark, never for production.
import type { User, UserEvent, UserState } from '../domain/user.js';
import type { HistoryEntry } from '../lifecycle/history.js';
import { VersionConflictError } from './errors.js';
import type { EventStore, JobHistoryStore, Stores, UserProjectionStore } from './types.js';

/**
 * Stored values are deep-frozen copies, so reads can hand them out without copying (as cheap as a
 * store can be, for the queue-overhead benchmark) while a caller that mutates one still fails loudly.
 */
function frozenCopy<T>(value: T): T {
  const copy = structuredClone(value);
  const freeze = (v: unknown) => {
    if (v && typeof v === 'object' && !Object.isFrozen(v)) {
      Object.freeze(v);
      for (const child of Object.values(v)) freeze(child);
    }
  };
  freeze(copy);
  return copy;
}

export class MemoryEventStore implements EventStore {
  readonly byUser = new Map<string, UserEvent[]>();

  async load(userId: string) {
    return [...(this.byUser.get(userId) ?? [])];
  }
  async get(userId: string, version: number) {
    return this.byUser.get(userId)?.[version - 1];
  }
  async append(event: UserEvent) {
    const events = this.byUser.get(event.userId) ?? [];
    if (events.length >= event.version) throw new VersionConflictError(event.userId, event.version);
    if (events.length !== event.version - 1) throw new Error(`gap before version ${event.version}`);
    events.push(frozenCopy(event));
    this.byUser.set(event.userId, events);
  }
  async *scanAll() {
    for (const events of this.byUser.values()) yield* events;
  }
  async count() {
    let n = 0;
    for (const events of this.byUser.values()) n += events.length;
    return n;
  }
}

export class MemoryUserProjection implements UserProjectionStore {
  readonly rows = new Map<string, UserState>();

  async getUser(userId: string): Promise<User | undefined> {
    const row = this.rows.get(userId);
    return row?.user;
  }
  async getState(userId: string) {
    const row = this.rows.get(userId);
    return row;
  }
  async queryByDepartment(department: string, limit: number) {
    const users: User[] = [];
    for (const row of this.rows.values()) {
      if (row.user?.department === department) users.push(row.user);
      if (users.length >= limit) break;
    }
    return users;
  }
  async put(state: UserState) {
    const current = this.rows.get(state.userId);
    if (current && current.version >= state.version) return false;
    this.rows.set(state.userId, frozenCopy(state));
    return true;
  }
  async overwrite(userId: string, state: UserState | undefined) {
    if (state) this.rows.set(userId, frozenCopy(state));
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

export function createMemoryStores(): Stores & {
  events: MemoryEventStore;
  users: MemoryUserProjection;
  history: MemoryJobHistory;
} {
  return { events: new MemoryEventStore(), users: new MemoryUserProjection(), history: new MemoryJobHistory() };
}
