// Replays the event store: folds every user's whole stream and compares the fold with the users
// projection, which is also the write path's head (verify), or rewrites it from the fold (rebuild).
// The stream is the linked events: flagged, or named by the head's window; the rest are events
// of jobs that lost the race for their version and never came back, and are never part of a state.
import { foldUser, linkedStream, type StoredEvent, sameHead, type UserEvent, type UserHead } from '../domain/user.js';
import type { EventStore, UserProjectionStore } from '../store/types.js';
import type { PendingWork } from './pending-work.js';

export interface Mismatch {
  userId: string;
  /** What the events say (undefined: no events). */
  expected?: UserHead;
  /** What the projection holds (undefined: no row). */
  actual?: UserHead;
  problem: string;
  /** Jobs still in the queue that target this user: the difference may be their work in progress. */
  pendingJobs?: string[];
}

export interface VerifyReport {
  aggregates: number;
  /** Events in the users' streams. */
  events: number;
  /** Stored events in no stream: left by jobs that lost their version and ended without it. */
  unlinked: number;
  matching: number;
  /** Differences no pending job explains. */
  mismatches: Mismatch[];
  /** Differences on users that a job still waiting, delayed or running targets: not (yet) errors. */
  explained: Mismatch[];
  /** (jobId, user) pairs with more than one event: a job applied twice. */
  duplicateEvents: { jobId: string; userId: string; count: number }[];
}

async function loadAll(events: EventStore, users: UserProjectionStore) {
  const stored = new Map<string, StoredEvent[]>();
  for await (const event of events.scanAll()) {
    const list = stored.get(event.userId) ?? [];
    list.push(event);
    stored.set(event.userId, list);
  }
  const rows = new Map<string, UserHead>();
  for await (const row of users.scanAll()) rows.set(row.userId, row);
  const byUser = new Map<string, UserEvent[]>();
  let eventCount = 0;
  let unlinked = 0;
  for (const [userId, list] of stored) {
    const split = linkedStream(list, rows.get(userId));
    unlinked += split.unlinked.length;
    if (split.stream.length === 0) continue;
    eventCount += split.stream.length;
    byUser.set(userId, split.stream);
  }
  return { byUser, rows, eventCount, unlinked };
}

/** One user's head, stream and unlinked events, read whole (operators and tests, not the write path). */
export async function loadUser(events: EventStore, users: UserProjectionStore, userId: string) {
  const [stored, head] = await Promise.all([events.listUser(userId), users.getHead(userId)]);
  return { head, ...linkedStream(stored, head) };
}

function fold(userId: string, events: UserEvent[]): { state?: UserHead; error?: string } {
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
  const { byUser, rows, eventCount, unlinked } = await loadAll(events, users);
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
    else if (!sameHead(expected, actual)) {
      found.push({
        ...base,
        problem:
          actual.version !== expected.version
            ? `projection at version ${actual.version}, events at ${expected.version}`
            : 'projection (or its recent jobs) differs from the fold of its events',
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
    unlinked,
    matching: ids.size - found.length,
    mismatches,
    explained,
    duplicateEvents,
  };
}

/**
 * Rewrites every projection row from the fold of its stream, and removes rows without events.
 * Events are never changed, only flagged linked below the rewritten head's window (the write
 * path's invariant). Stop the workers first: the head is their concurrency token, and a head
 * rewritten under a running writer could be moved backwards.
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
    if (!row || !sameHead(state, row)) {
      // The write path's invariant: whatever is outside the head's window is flagged linked.
      // (Only rows that change are rewritten, so this is rare; flagging a flagged event is a no-op.)
      const below = state ? list.filter((e) => e.version <= state.version - state.recentJobs.length) : [];
      for (const e of below) await events.markLinked(userId, e.jobId, e.version);
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
