// Replays the event store: folds every user's events and compares the fold with the users
// projection (verify), or rewrites the projection from the fold (rebuild).
import { foldUser, sameState, type UserEvent, type UserState } from '../domain/user.js';
import type { EventStore, UserProjectionStore } from '../store/types.js';
import type { PendingWork } from './pending-work.js';

export interface Mismatch {
  userId: string;
  /** What the events say (undefined: no events). */
  expected?: UserState;
  /** What the projection holds (undefined: no row). */
  actual?: UserState;
  problem: string;
  /** Jobs still in the queue that target this user: the difference may be their work in progress. */
  pendingJobs?: string[];
}

export interface VerifyReport {
  aggregates: number;
  events: number;
  matching: number;
  /** Differences no pending job explains. */
  mismatches: Mismatch[];
  /** Differences on users that a job still waiting, delayed or running targets: not (yet) errors. */
  explained: Mismatch[];
  /** (jobId, user) pairs with more than one event: a job applied twice. */
  duplicateEvents: { jobId: string; userId: string; count: number }[];
}

async function loadAll(events: EventStore, users: UserProjectionStore) {
  const byUser = new Map<string, UserEvent[]>();
  let eventCount = 0;
  for await (const event of events.scanAll()) {
    eventCount++;
    const list = byUser.get(event.userId) ?? [];
    list.push(event);
    byUser.set(event.userId, list);
  }
  for (const list of byUser.values()) list.sort((a, b) => a.version - b.version);
  const rows = new Map<string, UserState>();
  for await (const row of users.scanAll()) rows.set(row.userId, row);
  return { byUser, rows, eventCount };
}

function fold(userId: string, events: UserEvent[]): { state?: UserState; error?: string } {
  try {
    const state = foldUser(userId, events);
    return state ? { state } : {};
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/**
 * Folds every user's events and compares them with the projection. `readPending` is asked before
 * and after the scans: a difference on a user that an unfinished job targets is reported as
 * explained, not as a mismatch (a stopped stack with jobs waiting for their retry, or a live one).
 */
export async function verifyProjection(
  events: EventStore,
  users: UserProjectionStore,
  readPending: () => Promise<PendingWork> = async () => new Map(),
): Promise<VerifyReport> {
  const pendingBefore = await readPending();
  const { byUser, rows, eventCount } = await loadAll(events, users);
  const pendingAfter = await readPending();
  const pendingFor = (userId: string) => [
    ...new Set([...(pendingBefore.get(userId) ?? []), ...(pendingAfter.get(userId) ?? [])]),
  ];
  const found: Mismatch[] = [];
  const duplicateEvents: VerifyReport['duplicateEvents'] = [];
  for (const [userId, list] of byUser) {
    const perJob = new Map<string, number>();
    for (const e of list) perJob.set(e.jobId, (perJob.get(e.jobId) ?? 0) + 1);
    for (const [jobId, count] of perJob) if (count > 1) duplicateEvents.push({ jobId, userId, count });
  }
  const ids = new Set([...byUser.keys(), ...rows.keys()]);
  for (const userId of ids) {
    const actual = rows.get(userId);
    const { state: expected, error } = fold(userId, byUser.get(userId) ?? []);
    const base = { userId, ...(expected ? { expected } : {}), ...(actual ? { actual } : {}) };
    if (error) found.push({ ...base, problem: `events do not fold: ${error}` });
    else if (!expected) found.push({ ...base, problem: 'projection row without events' });
    else if (!actual) found.push({ ...base, problem: 'events without a projection row' });
    else if (!sameState(expected, actual)) {
      found.push({
        ...base,
        problem:
          actual.version !== expected.version
            ? `projection at version ${actual.version}, events at ${expected.version}`
            : 'projection differs from the fold of its events',
      });
    }
  }
  const mismatches: Mismatch[] = [];
  const explained: Mismatch[] = [];
  for (const m of found) {
    const pendingJobs = pendingFor(m.userId);
    if (pendingJobs.length > 0) explained.push({ ...m, pendingJobs });
    else mismatches.push(m);
  }
  return {
    aggregates: ids.size,
    events: eventCount,
    matching: ids.size - found.length,
    mismatches,
    explained,
    duplicateEvents,
  };
}

/**
 * Rewrites every projection row from the fold of its events, and removes rows without events.
 * Events are never touched. Run it while workers are stopped: a worker projecting meanwhile could
 * be overwritten by an older fold (its next write to that user repairs it, but verify first).
 */
export async function rebuildProjection(events: EventStore, users: UserProjectionStore) {
  const { byUser, rows } = await loadAll(events, users);
  let written = 0;
  let removed = 0;
  const unfoldable: string[] = [];
  for (const [userId, list] of byUser) {
    const { state, error } = fold(userId, list);
    if (error) {
      unfoldable.push(userId);
      continue;
    }
    const row = rows.get(userId);
    if (!row || !sameState(state, row)) {
      await users.overwrite(userId, state);
      written++;
    }
  }
  for (const userId of rows.keys()) {
    if (!byUser.has(userId)) {
      await users.overwrite(userId, undefined);
      removed++;
    }
  }
  return { aggregates: byUser.size, written, removed, unfoldable };
}
