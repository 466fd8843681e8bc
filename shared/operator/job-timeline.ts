// A job's whole life in one answer, for `djq history` and the console page: every attempt with its
// error and duration (numbered across redrives), put-backs, the dead-letter moves with their
// reasons, redrives and purges with who did them and when (the record's marks), and the effect in
// DynamoDB (the event each touched user got, and that user's projection version now).
import type { HistoryEntry } from '../lifecycle/history-entry.js';
import { usersOf } from '../store/job-index.js';
import type { JobRecord, OutcomeMark, Stores } from '../store/types.js';
import type { JobSummary } from './job-search.js';

export interface AttemptView {
  /** 1, 2, 3… across the job's whole life. */
  n: number;
  /** The redrive generation it ran in (1 until the first redrive). */
  gen: number;
  /** BullMQ's attempt number within its generation. */
  attempt: number;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  outcome: 'running' | 'failed' | 'completed';
  errorClass?: string;
  message?: string;
  retryable?: boolean;
  workerId?: string;
}

export type TimelineItem =
  | { at: string; kind: 'history'; entry: HistoryEntry }
  /** A decision or redrive from DynamoDB's record, with who made it. */
  | { at: string; kind: 'mark'; mark: OutcomeMark; gen: number };

export interface UserEffect {
  userId: string;
  /**
   * The event this job wrote for the user (absent: none, or discarded when the job failed);
   * `applied` when it is part of the user's stream (the head names it, or it was flagged linked).
   */
  event?: { version: number; type: string; applied: boolean };
  /** The user's projection version now. */
  projectionVersion?: number;
  deleted?: boolean;
}

export interface Timeline {
  jobId: string;
  summary?: JobSummary;
  record?: JobRecord;
  attempts: AttemptView[];
  items: TimelineItem[];
  effect: UserEffect[];
  /**
   * The job's record stands but its history is gone: DynamoDB's TTL removed it
   * (HISTORY_RETENTION_DAYS after its last entry). The record is kept: it is the job's outcome of record.
   */
  historyExpired?: true;
}

/**
 * Whether a record without history lost it to the history's TTL: its last known time (its last
 * decision, else its acceptance) is more than the retention ago. A younger one simply has none yet.
 */
export function historyExpired(record: JobRecord, retentionDays: number, now: number): boolean {
  const last = record.marks.at(-1)?.at ?? record.accepted?.at;
  return last !== undefined && Date.parse(last) + retentionDays * 86_400_000 < now;
}

/**
 * Pairs each attempt's start with its end. A generation starts over at attempt 1 after a redrive,
 * so the generation is counted from the redrives seen before it, not read from the number. A job
 * whose lock expired is delivered again under the same attempt number while the first delivery may
 * still finish (a stale delivery whose job stands completed says `completed` too): an end closes
 * the open attempt its own worker started, else the latest one of that number.
 */
export function attemptsOf(entries: readonly HistoryEntry[]): AttemptView[] {
  const attempts: AttemptView[] = [];
  let gen = 1;
  const open = new Map<string, AttemptView[]>();
  for (const entry of entries) {
    if (entry.type === 'redriven') gen++;
    if (entry.type === 'attempt-started') {
      const view: AttemptView = {
        n: attempts.length + 1,
        gen,
        attempt: entry.attempt,
        startedAt: entry.at,
        outcome: 'running',
        ...(entry.workerId ? { workerId: entry.workerId } : {}),
      };
      attempts.push(view);
      const key = `${gen}:${entry.attempt}`;
      open.set(key, [...(open.get(key) ?? []), view]);
    }
    // A stale delivery's failure (it no longer held the job) is shown among the items, not as an attempt.
    if ((entry.type === 'attempt-failed' && !entry.stale) || entry.type === 'completed') {
      const key = `${gen}:${entry.attempt}`;
      const candidates = open.get(key) ?? [];
      let view =
        candidates.findLast((v) => entry.workerId !== undefined && v.workerId === entry.workerId) ?? candidates.at(-1);
      if (view) candidates.splice(candidates.indexOf(view), 1);
      else {
        view = { n: attempts.length + 1, gen, attempt: entry.attempt, outcome: 'running' };
        attempts.push(view);
      }
      view.endedAt = entry.at;
      if (view.startedAt) view.durationMs = Date.parse(entry.at) - Date.parse(view.startedAt);
      if (entry.type === 'completed') {
        view.outcome = 'completed';
        view.durationMs = entry.durationMs;
      } else {
        view.outcome = 'failed';
        view.errorClass = entry.errorClass;
        view.message = entry.message;
        view.retryable = entry.retryable;
      }
    }
  }
  return attempts;
}

/** Numbers a DLQ entry's attempts across redrives: a new generation starts where the number drops. */
export function numberAttempts<T extends { attempt: number }>(
  attempts: readonly T[],
): (T & { n: number; gen: number })[] {
  let gen = 1;
  return attempts.map((a, i) => {
    if (i > 0 && a.attempt <= (attempts[i - 1] as T).attempt) gen++;
    return { ...a, n: i + 1, gen };
  });
}

/** The record's marks with the generation each belongs to. */
function markItems(record: JobRecord | undefined): TimelineItem[] {
  let gen = 1;
  return (record?.marks ?? []).map((mark) => {
    const item: TimelineItem = { at: mark.at, kind: 'mark', mark, gen };
    if (mark.outcome === 'redriven') gen++;
    return item;
  });
}

export async function jobTimeline(
  stores: Pick<Stores, 'jobs' | 'history' | 'events' | 'users'>,
  jobId: string,
  options: { summary?: JobSummary | undefined; retentionDays: number; now?: number },
): Promise<Timeline> {
  const { summary } = options;
  const [record, entries] = await Promise.all([stores.jobs.get(jobId), stores.history.list(jobId)]);
  const users = record?.accepted ? usersOf(record.accepted.name, record.accepted.data) : [];
  const effect = await Promise.all(
    users.map(async (userId): Promise<UserEffect> => {
      const [event, head] = await Promise.all([stores.events.getByJob(userId, jobId), stores.users.getHead(userId)]);
      return {
        userId,
        ...(event
          ? {
              event: {
                version: event.version,
                type: event.type,
                applied: event.linked === true || (head?.recentJobs.includes(jobId) ?? false),
              },
            }
          : {}),
        ...(head?.version !== undefined ? { projectionVersion: head.version, deleted: head.deleted } : {}),
      };
    }),
  );
  const items: TimelineItem[] = [
    ...entries.map((entry): TimelineItem => ({ at: entry.at, kind: 'history', entry })),
    ...markItems(record),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  return {
    jobId,
    ...(summary ? { summary } : {}),
    ...(record ? { record } : {}),
    attempts: attemptsOf(entries),
    items,
    effect,
    ...(record && entries.length === 0 && historyExpired(record, options.retentionDays, options.now ?? Date.now())
      ? { historyExpired: true as const }
      : {}),
  };
}
