// The store's own errors: SDK errors are converted at the store edge so the write path reasons in
// domain terms (a taken version slot, a missing user), never in SDK exception names.
import type { HistoryEntry } from '../lifecycle/history-entry.js';

export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The event's version slot is taken: someone appended first. Retry after reloading. */
export class VersionConflictError extends StoreError {
  constructor(
    readonly userId: string,
    readonly version: number,
    options?: ErrorOptions,
  ) {
    super(`user ${userId}: version ${version} was appended concurrently`, options);
  }
}

/** Update or delete of a user with no events yet: its create may still be queued, so retry. */
export class UserNotFoundError extends StoreError {
  constructor(readonly userId: string) {
    super(`user ${userId} does not exist (yet): its create may still be queued`);
  }
}

/** Update of a deleted user: final, retrying cannot help. */
export class UserDeletedError extends StoreError {
  constructor(readonly userId: string) {
    super(`user ${userId} was deleted`);
  }
}

/** Create of an id that another job already created: final. */
export class UserAlreadyExistsError extends StoreError {
  constructor(
    readonly userId: string,
    readonly byJobId: string,
  ) {
    super(`user ${userId} already exists (created by job ${byJobId})`);
  }
}

/**
 * A decision for a generation that is no longer the job's current one (a move that read the job
 * before a redrive opened the next): it decides nothing. Final: the caller's instance is stale.
 */
export class StaleGenerationError extends Error {
  override readonly name = 'StaleGenerationError';
  constructor(
    readonly jobId: string,
    readonly expected: number,
    readonly current: number,
  ) {
    super(`job ${jobId}: generation ${expected} is over (the job is at generation ${current}); nothing decided`);
  }
}

/**
 * The job is barred from this user: it was dead-lettered (or is being), so its outcome is decided
 * without this delivery, which applies nothing. Final: retrying cannot lift a bar (a redrive does).
 */
export class JobBarredError extends StoreError {
  constructor(
    readonly jobId: string,
    readonly userId: string,
  ) {
    super(`job ${jobId} is barred from user ${userId}: it was dead-lettered, so this delivery applied nothing`);
  }
}

/**
 * A history write that stopped part-way: `unwritten` are the entries not written (the others are
 * stored), so a retry writes only them and never stores an entry twice.
 */
export class HistoryWriteError extends StoreError {
  constructor(
    readonly unwritten: readonly HistoryEntry[],
    options?: ErrorOptions,
  ) {
    super(`${unwritten.length} job history entries not written`, options);
  }
}

/** The table's schema is older than this release reads and writes: `djq migrate` brings it up. */
export class SchemaTooOldError extends StoreError {
  constructor(
    readonly tableName: string,
    readonly version: number,
    readonly needed: number,
  ) {
    super(
      `table ${tableName} is at schema version ${version}; this release needs ${needed} (the job search indexes). ` +
        'Run `djq migrate` (adds the indexes online and backfills their keys), or start once with CREATE_TABLES=true, which migrates on start.',
    );
  }
}

/** A table written by 0.1.0 (events keyed by version): no release after it can read or migrate it. */
export class LegacyLayoutError extends StoreError {
  constructor(
    readonly tableName: string,
    /** One 0.1.0 event item's key, as found. */
    readonly example: string,
  ) {
    super(
      `table ${tableName} was written by djq 0.1.0: its events are keyed by version (e.g. ${example}), ` +
        'and this release keys them by job (EVENT#<jobId>) and cannot read them. No migration exists, and ' +
        'nothing was changed. To upgrade: (1) point this release at a new table (DYNAMODB_TABLE_NAME=<new name>, ' +
        'CREATE_TABLES=true); (2) re-enqueue each user of the old table as a create-user job (its current ' +
        'state is the USER#<id> / STATE item); (3) keep the old table, read-only, for its event history. ' +
        'See docs/outcomes.md, "Upgrading".',
    );
  }
}
