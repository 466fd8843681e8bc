// Every job's life as an append-only list of lifecycle entries. Written through a bounded buffer
// flushed in batches, so it costs the hot path almost nothing, and a failing history write never
// touches the job itself: a crash loses at most this process's unflushed buffer.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../runtime/config.js';
import { withDeadline } from '../runtime/deadline.js';
import type { Logger } from '../runtime/logger.js';
import { HistoryWriteError } from '../store/errors.js';
import type { JobHistoryStore } from '../store/types.js';
import type { HistoryEntry } from './history-entry.js';
import type { HistorySpill } from './history-spill.js';

export type { HistoryEntry, HistoryType, PutBackCause } from './history-entry.js';

/** The job's current status is a projection of its history, not a separate mutable record. */
export function statusOf(entries: readonly HistoryEntry[]): string {
  let status = 'unknown';
  for (const e of entries) {
    if (e.type === 'enqueued' || e.type === 'redriven') status = 'waiting';
    else if (e.type === 'attempt-started') status = 'active';
    else if (e.type === 'attempt-failed') status = e.retryable ? 'retrying' : 'failed';
    else if (e.type === 'completed') status = 'completed';
    else if (e.type === 'dead-lettered') status = 'dead-lettered';
    else if (e.type === 'purged') status = 'purged';
    else if (e.type === 'put-back') status = 'waiting';
  }
  return status;
}

export interface HistoryRecorderOptions {
  store: JobHistoryStore;
  flushIntervalMs: number;
  /** Entries held at most; past it the oldest are dropped and counted, so memory stays bounded. */
  maxBuffered: number;
  /** A failed write: `pending` entries wait for the next try; `streak` failures in a row so far. */
  onError?: (error: unknown, pending: number, streak: number) => void;
  /** Where entries wait when the buffer is full or at shutdown, instead of being dropped. */
  spill?: HistorySpill;
  /**
   * After a look that found the spill empty, how long before the next look (a flush is then just a
   * write): the spill is empty but in an incident, and looking after every flush cost a Redis round
   * trip per batch. This process spilling, or a look that found entries, ends the wait.
   * @default 5000
   */
  spillRecheckMs?: number;
}

/** How long a shutdown waits for the spill to take what the table did not. */
const SPILL_DEADLINE_MS = 2000;

/** Spilled entries taken back per successful flush: the table catches up without a burst. */
const SPILL_TAKE = 25;

const SPILL_RECHECK_MS = 5000;

/** Longest pause between flushes while writes keep failing. */
const MAX_BACKOFF_MS = 30_000;

export class HistoryRecorder {
  private buffer: HistoryEntry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** Failed writes in a row, and when the timer may try again: a throttled or unreachable table
   * is not hit every interval with an ever larger batch (each throttle also slows the fleet). */
  private streak = 0;
  private resumeAt = 0;
  /** Until when the spill is taken to be empty (its last look found nothing), and spills begun so far. */
  private spillEmptyUntil = 0;
  private spills = 0;
  /** Shutting down: only this process's own entries are written, the fleet's spill is left to others. */
  private closing = false;
  dropped = 0;

  constructor(private readonly options: HistoryRecorderOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.flushWhenDue(), this.options.flushIntervalMs);
    this.timer.unref();
  }

  record(entry: HistoryEntry): void {
    this.buffer.push(entry);
    this.trim();
    // Flush early once a full batch is waiting, but never run two flushes at once.
    if (this.buffer.length >= 25 && !this.flushing) void this.flushWhenDue();
  }

  private flushWhenDue(): Promise<void> {
    return Date.now() < this.resumeAt ? Promise.resolve() : this.flush();
  }

  get pending(): number {
    return this.buffer.length;
  }

  /**
   * Writes what is buffered. Never throws: a history failure must not fail a job. A failed batch
   * goes back to the front of the buffer for the next flush (still bounded by maxBuffered).
   */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0) return Promise.resolve();
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.options.store
      .write(batch)
      .then(() => {
        this.streak = 0;
        this.resumeAt = 0;
        return this.takeBackSpilled();
      })
      .catch((error: unknown) => {
        this.streak += 1;
        this.resumeAt = Date.now() + Math.min(MAX_BACKOFF_MS, this.options.flushIntervalMs * 2 ** this.streak);
        // A write that stopped part-way stored the rest: only what it did not store is kept.
        const unwritten = error instanceof HistoryWriteError ? error.unwritten : batch;
        this.buffer = unwritten.concat(this.buffer);
        this.trim();
        this.options.onError?.(error, this.buffer.length, this.streak);
      })
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  private trim(): void {
    const excess = this.buffer.length - this.options.maxBuffered;
    if (excess > 0) void this.spillOrDrop(this.buffer.splice(0, excess));
  }

  /** Entries this process cannot hold: to the spill, or counted as dropped when there is none. */
  private async spillOrDrop(entries: HistoryEntry[]): Promise<void> {
    const { spill } = this.options;
    if (!spill) {
      this.dropped += entries.length;
      return;
    }
    // Before the push: a flush from now on looks again (and, on the same connection, after it).
    this.spills += 1;
    this.spillEmptyUntil = 0;
    try {
      this.dropped += await spill.push(entries);
    } catch {
      this.dropped += entries.length;
    }
  }

  /**
   * After a flush that worked: one batch of what the fleet spilled, written the same way (unless a
   * look a moment ago found the spill empty).
   */
  private async takeBackSpilled(): Promise<void> {
    const { spill, store } = this.options;
    // At shutdown a stuck Redis would hold the exit (its take never answers): what waits in the
    // spill is for the processes that stay.
    if (!spill || this.closing || Date.now() < this.spillEmptyUntil) return;
    const spillsBefore = this.spills;
    // A stuck Redis must not hold this flush (and every later one) for good: past the deadline the
    // take counts as empty, and what it takes if Redis answers later joins the buffer.
    const take = spill.take(SPILL_TAKE).catch(() => [] as HistoryEntry[]);
    const late = Symbol('late');
    const answer = await Promise.race([take, sleep(SPILL_DEADLINE_MS, late, { ref: false })]);
    if (answer === late) {
      void take.then((entries) => {
        this.buffer = entries.concat(this.buffer);
      });
      return;
    }
    const taken = answer;
    if (taken.length === 0) {
      // Unless this process spilled meanwhile (its push may have landed after the look).
      if (this.spills === spillsBefore) {
        this.spillEmptyUntil = Date.now() + (this.options.spillRecheckMs ?? SPILL_RECHECK_MS);
      }
      return;
    }
    try {
      await store.write(taken);
    } catch (error) {
      await this.spillOrDrop([...(error instanceof HistoryWriteError ? error.unwritten : taken)]);
    }
  }

  /** Flushes everything, including entries recorded meanwhile; gives up after a few failed rounds. */
  async close(maxRounds = 5): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.closing = true;
    for (let round = 0; round < maxRounds && (this.flushing || this.buffer.length > 0); round++) await this.flush();
    if (this.buffer.length > 0) {
      this.options.onError?.(new Error('history store unavailable at shutdown'), this.buffer.length, this.streak);
      const left = this.buffer;
      this.buffer = [];
      // A stuck Redis must not hold the exit: what the spill has not taken by then is dropped.
      if (!(await withDeadline(this.spillOrDrop(left), Date.now() + SPILL_DEADLINE_MS))) this.dropped += left.length;
    }
  }
}

/** A started recorder configured from HISTORY_* and logging its failures: what every service uses. */
export function startHistoryRecorder(
  config: Pick<Config, 'HISTORY_FLUSH_MS' | 'HISTORY_BUFFER_MAX'>,
  store: JobHistoryStore,
  logger: Logger,
  spill?: HistorySpill,
): HistoryRecorder {
  const recorder = new HistoryRecorder({
    store,
    ...(spill ? { spill } : {}),
    flushIntervalMs: config.HISTORY_FLUSH_MS,
    maxBuffered: config.HISTORY_BUFFER_MAX,
    // One warning when writes start failing, then one every tenth try: a throttled table would
    // otherwise fill the log with a line per flush.
    onError: (error, pending, streak) => {
      const log = streak <= 1 || streak % 10 === 0 ? logger.warn.bind(logger) : logger.debug.bind(logger);
      log({ err: error, pending, streak }, 'job history write failed (jobs are unaffected); retrying with backoff');
    },
  });
  recorder.start();
  return recorder;
}
