// The event-sourced write path, with an exactly-once effect under at-least-once delivery.
//
// A command (1) loads the user's events with a strongly consistent read, (2) returns early if one
// of them carries this job's id (already applied: only re-project), (3) appends the new event into
// the next version slot with a conditional put, retrying from (1) if another job took the slot,
// (4) writes the folded state to the projection with a version guard. Every step is safe to repeat:
// a crash anywhere leaves either no event (the retry appends it) or the job's event (the retry finds
// it and only re-projects). See "How exactly-once works" in the README.

import type { NewUser } from '../shared/domain/jobs.js';
import { foldUser, type UserEvent, type UserState } from '../shared/domain/user.js';
import {
  UserAlreadyExistsError,
  UserDeletedError,
  UserNotFoundError,
  VersionConflictError,
} from '../shared/store/errors.js';
import type { EventStore, UserProjectionStore } from '../shared/store/types.js';

export interface CommandOutcome {
  userId: string;
  version: number;
  /** false when this job's event was already there (a redelivery) or there was nothing to do. */
  applied: boolean;
  alreadyDeleted?: boolean;
}

type EventDraft = Pick<UserEvent, 'type' | 'data'>;

export interface UserCommandsOptions {
  events: EventStore;
  users: UserProjectionStore;
  /** In-process reload-and-retry rounds on a version conflict before the job is retried by BullMQ. */
  maxConflictRounds?: number;
  now?: () => string;
}

export class UserCommands {
  private readonly events: EventStore;
  private readonly users: UserProjectionStore;
  private readonly maxConflictRounds: number;
  private readonly now: () => string;

  constructor(options: UserCommandsOptions) {
    this.events = options.events;
    this.users = options.users;
    this.maxConflictRounds = options.maxConflictRounds ?? 5;
    this.now = options.now ?? (() => new Date().toISOString());
  }

  /** Create needs no read first: a new user's first event has version 1, so the slot decides. */
  async create(jobId: string, user: NewUser): Promise<CommandOutcome> {
    const event: UserEvent = { type: 'UserCreated', userId: user.id, version: 1, jobId, at: this.now(), data: user };
    try {
      await this.events.append(event);
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      const first = await this.events.get(user.id, 1);
      if (first && first.jobId !== jobId) throw new UserAlreadyExistsError(user.id, first.jobId);
      await this.repair(user.id);
      return { userId: user.id, version: 1, applied: false };
    }
    await this.project(foldUser(user.id, [event]) as UserState);
    return { userId: user.id, version: 1, applied: true };
  }

  async update(jobId: string, userId: string, changes: { age?: number; department?: string }) {
    return this.decide(jobId, userId, (state) => {
      if (!state) throw new UserNotFoundError(userId);
      if (state.deleted) throw new UserDeletedError(userId);
      return { type: 'UserUpdated', data: changes };
    });
  }

  /** Deleting a deleted user is a success with nothing to do: delete is idempotent across jobs. */
  async delete(jobId: string, userId: string) {
    return this.decide(jobId, userId, (state) => {
      if (!state) throw new UserNotFoundError(userId);
      if (state.deleted) return undefined;
      return { type: 'UserDeleted', data: {} };
    });
  }

  /** Re-projects a user from its events (after a crash between append and project, or on dead-letter). */
  async repair(userId: string): Promise<{ version: number }> {
    const state = foldUser(userId, await this.events.load(userId));
    if (state) await this.project(state);
    return { version: state?.version ?? 0 };
  }

  /** Whether this job's event is already in the user's stream. */
  async hasApplied(jobId: string, userId: string): Promise<boolean> {
    return (await this.events.load(userId)).some((e) => e.jobId === jobId);
  }

  private async decide(
    jobId: string,
    userId: string,
    draft: (state: UserState | undefined) => EventDraft | undefined,
  ): Promise<CommandOutcome> {
    for (let round = 0; ; round++) {
      const events = await this.events.load(userId);
      const state = foldUser(userId, events);
      const mine = events.find((e) => e.jobId === jobId);
      if (mine) {
        // Already applied by an earlier delivery: the projection may have missed it, so write it again.
        if (state) await this.project(state);
        return { userId, version: mine.version, applied: false };
      }
      const next = draft(state);
      if (!next) return { userId, version: state?.version ?? 0, applied: false, alreadyDeleted: true };
      const event = { ...next, userId, version: (state?.version ?? 0) + 1, jobId, at: this.now() } as UserEvent;
      try {
        await this.events.append(event);
      } catch (error) {
        if (error instanceof VersionConflictError && round + 1 < this.maxConflictRounds) continue;
        throw error;
      }
      await this.project(foldUser(userId, [...events, event]) as UserState);
      return { userId, version: event.version, applied: true };
    }
  }

  private async project(state: UserState): Promise<void> {
    await this.users.put(state);
  }
}
