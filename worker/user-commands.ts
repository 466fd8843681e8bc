// The event-sourced write path, with an exactly-once effect under at-least-once delivery, at a cost
// that does not grow with the user's history.
//
// A job's event is keyed by (user, job), so a job has at most one event per user by construction,
// and the user's head (the projection row) is the concurrency token: an event is part of the stream
// once the head moves from its version - 1 to its version in one conditional write ("linking"). A
// command reads the head and its own event (two items, in parallel), then either finds its event
// linked (done), links it if it is next, or writes it at head + 1 (moving it there if it lost an
// earlier race) and links it. Every step is safe to repeat; see "How exactly-once works" in docs/architecture.md.

import { setTimeout as sleep } from 'node:timers/promises';
import type { NewUser } from '../shared/domain/jobs.js';
import {
  applyToHead,
  droppedFromWindow,
  jobAtVersion,
  type StoredEvent,
  type UserEvent,
  type UserHead,
} from '../shared/domain/user.js';
import {
  JobBarredError,
  UserAlreadyExistsError,
  UserDeletedError,
  UserNotFoundError,
  VersionConflictError,
} from '../shared/store/errors.js';
import {
  type Bars,
  barredGenerations,
  type EventStore,
  type JobRecordStore,
  type UserProjectionStore,
} from '../shared/store/types.js';
import { KeyedMutex } from './keyed-mutex.js';

export interface CommandOutcome {
  userId: string;
  version: number;
  /** false when this job's event was already linked (a redelivery) or there was nothing to do. */
  applied: boolean;
  alreadyDeleted?: boolean;
  /** Rounds lost to other writers before this one succeeded (absent when none). */
  conflicts?: number;
}

type EventDraft = Pick<UserEvent, 'type' | 'data'>;

export interface UserCommandsOptions {
  events: EventStore;
  users: UserProjectionStore;
  /** The job records, to tell a bar of the job's current generation from an earlier one's. */
  records?: Pick<JobRecordStore, 'get'>;
  /**
   * Rounds of re-read and retry when another writer linked first, before giving up with a
   * VersionConflictError (which the processor turns into a put-back, not a failed attempt).
   * @default 5
   */
  maxConflictRounds?: number;
  /**
   * Pause before round `round` (≥ 1), given how long the lost round took. The writer that won goes
   * straight on with its process's next job on the user while the losers wait a round or two, so
   * one process tends to keep the user for a while instead of all of them colliding every round.
   * @default lastRoundMs · 2^(round-1) · U[0.5, 1.5)
   */
  backoffMs?: (round: number, lastRoundMs: number) => number;
  now?: () => string;
}

/**
 * Where a job's stored event stands against the head:
 * - none: the job wrote no event for this user;
 * - linked: part of the stream (flagged, or named by the head's window);
 * - next: at head + 1, not linked yet (its writer died or is still on it): link it;
 * - lost: at a version the head gave to another job: it must move (it can never be linked there);
 * - lost-unsure: below the head's window and unflagged when read: lost, unless flagged since
 *   (every write that acts on it is conditional on "not flagged", which settles the race);
 * - ahead: past head + 1, so the head read is older than the event's writer's: read again.
 */
type Standing = 'none' | 'linked' | 'next' | 'lost' | 'lost-unsure' | 'ahead';

function standingOf(mine: StoredEvent | undefined, head: UserHead | undefined): Standing {
  if (!mine) return 'none';
  if (mine.linked) return 'linked';
  const headVersion = head?.version ?? 0;
  if (mine.version === headVersion + 1) return 'next';
  if (mine.version > headVersion + 1) return 'ahead';
  const named = jobAtVersion(head, mine.version);
  if (named === mine.jobId) return 'linked';
  return named === undefined ? 'lost-unsure' : 'lost';
}

function plain(event: StoredEvent): UserEvent {
  const { linked: _linked, ...rest } = event;
  return rest as UserEvent;
}

export class UserCommands {
  private readonly events: EventStore;
  private readonly users: UserProjectionStore;
  private readonly records: Pick<JobRecordStore, 'get'> | undefined;
  private readonly maxConflictRounds: number;
  private readonly backoffMs: (round: number, lastRoundMs: number) => number;
  private readonly now: () => string;
  /** Writers on one user in this process take turns: they would only race each other for its next version. */
  private readonly mutex = new KeyedMutex();

  constructor(options: UserCommandsOptions) {
    this.events = options.events;
    this.users = options.users;
    this.records = options.records;
    this.maxConflictRounds = options.maxConflictRounds ?? 5;
    this.backoffMs =
      options.backoffMs ?? ((round, lastRoundMs) => lastRoundMs * 2 ** (round - 1) * (0.5 + Math.random()));
    this.now = options.now ?? (() => new Date().toISOString());
  }

  /** Create needs no read first: a new user's head does not exist, so the first link decides. */
  async create(jobId: string, user: NewUser): Promise<CommandOutcome> {
    return this.mutex.run(user.id, async () => {
      const event: UserEvent = { type: 'UserCreated', userId: user.id, version: 1, jobId, at: this.now(), data: user };
      if ((await this.events.put(event)) && (await this.users.link(applyToHead(undefined, event), 0))) {
        return { userId: user.id, version: 1, applied: true };
      }
      // A redelivery, or an id that exists already: the general path tells which.
      return this.settle(jobId, user.id, (head) => {
        if (head) throw new UserAlreadyExistsError(user.id, head.createdBy);
        return { type: 'UserCreated', data: user };
      });
    });
  }

  async update(jobId: string, userId: string, changes: { age?: number; department?: string }) {
    return this.mutex.run(userId, () =>
      this.settle(jobId, userId, (head) => {
        if (!head) throw new UserNotFoundError(userId);
        if (head.deleted) throw new UserDeletedError(userId);
        return { type: 'UserUpdated', data: changes };
      }),
    );
  }

  /** Deleting a deleted user is a success with nothing to do: delete is idempotent across jobs. */
  async delete(jobId: string, userId: string) {
    return this.mutex.run(userId, () =>
      this.settle(jobId, userId, (head) => {
        if (!head) throw new UserNotFoundError(userId);
        if (head.deleted) return undefined;
        return { type: 'UserDeleted', data: {} };
      }),
    );
  }

  private async settle(
    jobId: string,
    userId: string,
    draft: (head: UserHead | undefined) => EventDraft | undefined,
  ): Promise<CommandOutcome> {
    let headVersion = 0;
    let roundStarted = 0;
    for (let round = 0; round < this.maxConflictRounds; round++) {
      if (round > 0) await sleep(this.backoffMs(round, performance.now() - roundStarted));
      roundStarted = performance.now();
      const [{ head, bars }, mine] = await Promise.all([
        this.users.readForWrite(userId),
        this.events.getByJob(userId, jobId),
      ]);
      headVersion = head?.version ?? 0;
      const standing = standingOf(mine, head);
      const lost = round > 0 ? { conflicts: round } : {};
      if (mine && standing === 'linked') return { userId, version: mine.version, applied: false, ...lost };
      // The job was dead-lettered (or is being): its outcome is decided without this delivery.
      if (await this.isBarred(jobId, bars)) throw new JobBarredError(jobId, userId);
      if (standing === 'ahead') continue;
      if (mine && standing === 'next') {
        // An earlier delivery wrote it and died (or is still on it): whoever links first, it is linked once.
        if (await this.link(head, plain(mine), bars)) return { userId, version: mine.version, applied: true, ...lost };
        continue;
      }

      // No event, or one that lost its version: decide against the state as it is now.
      let next: EventDraft | undefined;
      try {
        next = draft(head);
      } catch (error) {
        // Final for this job: its lost event goes, unless it turns out linked (then the next round says so).
        if (mine && !(await this.events.discard(userId, jobId, mine.version))) continue;
        throw error;
      }
      if (!next) {
        if (mine && !(await this.events.discard(userId, jobId, mine.version))) continue;
        return { userId, version: headVersion, applied: false, alreadyDeleted: true, ...lost };
      }
      const event = { ...next, userId, version: headVersion + 1, jobId, at: this.now() } as UserEvent;
      const target = applyToHead(head, event);
      // The event and the flags of what the link pushes out of the window, in parallel: both before the link.
      const [written] = await Promise.all([
        mine ? this.events.rewrite(event, mine.version) : this.events.put(event),
        this.flagDropped(userId, head, target),
      ]);
      if (written && (await this.users.link(target, headVersion, bars))) {
        return { userId, version: event.version, applied: true, ...lost };
      }
    }
    throw new VersionConflictError(userId, headVersion + 1);
  }

  /**
   * Whether a bar on this user stops the job: one of its current generation. A bar of an earlier
   * generation (left by a move paused across a redrive) does not; the link's condition on the bar
   * counter settles a redrive or a bar that comes between these reads and the write. Without the
   * job records (tests of the write path alone) every bar of the job counts.
   */
  private async isBarred(jobId: string, bars: Bars): Promise<boolean> {
    const barred = barredGenerations(bars, jobId);
    if (barred.length === 0) return false;
    if (!this.records) return true;
    return barred.includes((await this.records.get(jobId))?.genStartedAt ?? 0);
  }

  /** Links a stored event that is next: flags what leaves the window, then moves the head. */
  private async link(head: UserHead | undefined, event: UserEvent, bars: Bars): Promise<boolean> {
    const target = applyToHead(head, event);
    await this.flagDropped(event.userId, head, target);
    return this.users.link(target, head?.version ?? 0, bars);
  }

  private async flagDropped(userId: string, head: UserHead | undefined, target: UserHead): Promise<void> {
    await Promise.all(
      droppedFromWindow(head, target).map(({ version, jobId }) => this.events.markLinked(userId, jobId, version)),
    );
  }
}
