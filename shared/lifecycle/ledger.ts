// The ledger: two append-only Redis streams that the checker reads instead of the workers' counters.
// `enqueued` is written by the producer *before* each addBulk (a write-ahead record with the jobs
// themselves, so a producer killed between the two can re-add what is missing on restart);
// `outcomes` gets one entry when a job is dead-lettered, redriven or purged (under its transition
// lock). Completions are DynamoDB's job records alone (shared/operator/decided-outcomes.ts reads
// them): a per-job `completed` entry repeated that decision at a round trip a job (issue 24). Both
// are trimmed approximately at LEDGER_MAX_ENTRIES; `checkWindow` says from where on both streams
// still hold every record of a job.
import type { RedisConnection } from '../runtime/redis.js';
import type { QueueKeys } from './keys.js';
import type { Fence } from './transition-lock.js';

/**
 * `purged`: an operator deleted the job from the DLQ for good (djq dlq purge). `completed` is no
 * longer written: only streams from before issue 24 hold it.
 */
export type Outcome = 'completed' | 'dead-lettered' | 'redriven' | 'purged';

export interface LedgerJob {
  id: string;
  name: string;
  data: unknown;
}

export interface LedgerPosition {
  enqueued: string;
  outcomes: string;
}

export class Ledger {
  readonly enqueuedKey: string;
  readonly outcomesKey: string;
  /** The id of the newest enqueued record whose addBulk is known to have succeeded. */
  readonly committedKey: string;

  constructor(
    private readonly redis: RedisConnection,
    keys: QueueKeys,
    /** LEDGER_MAX_ENTRIES: each stream is trimmed (approximately) to this many entries. */
    private readonly maxEntries: number,
  ) {
    this.enqueuedKey = keys.ledgerEnqueued;
    this.outcomesKey = keys.ledgerOutcomes;
    this.committedKey = keys.ledgerCommitted;
  }

  /**
   * A record whose addBulk succeeded but whose commit mark is not written yet: it rides in one pipeline
   * with the next record (one round trip a tick instead of two), or is written by `commitPending`
   * when the producer stops. Until then `uncommitted` returns it, and a restarted producer's
   * recovery finds all its jobs in Redis or decided and re-adds none.
   */
  private pendingCommit: string | undefined;

  /**
   * Writes the jobs before they are enqueued (with the commit mark of the record before, if one is
   * pending, in the same pipeline); returns the record's id for `commitLater` or `markCommitted`.
   */
  async recordEnqueued(jobs: readonly LedgerJob[]): Promise<string> {
    const args = ['MAXLEN', '~', this.maxEntries, '*', 'jobs', JSON.stringify(jobs)] as const;
    const commit = this.pendingCommit;
    if (commit === undefined) return (await this.redis.xadd(this.enqueuedKey, ...args)) as string;
    // A pipeline, not MULTI: Redis runs one connection's commands in the order sent, so the record can
    // land only after the mark, and the mark alone (the record lost with a crash or an error) is
    // still true: the record before it was added. The tick goes on only once the record has landed.
    // Both keys of a shard hash to one slot (keys.ts), so the pipeline also runs on a cluster.
    const replies = await this.redis
      .pipeline()
      .set(this.committedKey, commit)
      .xadd(this.enqueuedKey, ...args)
      .exec();
    const failed = replies?.find(([error]) => error)?.[0];
    if (!replies || failed) throw failed ?? new Error('ledger record: the pipeline was not run');
    if (this.pendingCommit === commit) this.pendingCommit = undefined;
    return replies[1]?.[1] as string;
  }

  /** Marks a record's jobs as in Redis, so a restarted producer knows it has nothing to re-add. */
  async markCommitted(recordId: string): Promise<void> {
    await this.redis.set(this.committedKey, recordId);
    if (this.pendingCommit !== undefined && compareStreamIds(this.pendingCommit, recordId) <= 0)
      this.pendingCommit = undefined;
  }

  /** `markCommitted`, deferred to the next record's MULTI (or `commitPending`). */
  commitLater(recordId: string): void {
    // Records of concurrent enqueues may finish out of order: the newest one is the mark that matters.
    if (this.pendingCommit === undefined || compareStreamIds(recordId, this.pendingCommit) > 0)
      this.pendingCommit = recordId;
  }

  /** Writes a deferred commit mark now (the producer stops: no next record will carry it). */
  async commitPending(): Promise<void> {
    if (this.pendingCommit !== undefined) await this.markCommitted(this.pendingCommit);
  }

  /** With a transition's fence, the record is written in the same step as its lock check. */
  async recordOutcome(jobId: string, outcome: Outcome, fence?: Fence): Promise<void> {
    const args = ['MAXLEN', '~', this.maxEntries, '*', 'id', jobId, 'o', outcome] as const;
    if (fence) await fence.write('XADD', this.outcomesKey, ...args);
    else await this.redis.xadd(this.outcomesKey, ...args);
  }

  /**
   * The newest enqueued record if its addBulk was never confirmed: the only one a crashed producer
   * can have left half-done (it writes one record at a time).
   */
  async uncommitted(): Promise<{ recordId: string; jobs: LedgerJob[] } | undefined> {
    const [[entry], committed] = await Promise.all([
      this.redis.xrevrange(this.enqueuedKey, '+', '-', 'COUNT', 1),
      this.redis.get(this.committedKey),
    ]);
    return entry && entry[0] !== committed ? { recordId: entry[0], jobs: parseJobs(entry[1]) } : undefined;
  }

  /** Where the streams end now; reading "after" it scopes a run (npm start --until-drained). */
  async position(): Promise<LedgerPosition> {
    const last = async (key: string) => (await this.redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    return { enqueued: await last(this.enqueuedKey), outcomes: await last(this.outcomesKey) };
  }

  /**
   * Where the checker can trust both streams: jobs enqueued after the returned id. Once the enqueued
   * stream has been trimmed, the jobs of the records it dropped are not read at all: the window
   * starts just before its first record still held. A job's outcomes always come after its enqueue
   * record, so once the outcomes stream has been trimmed, jobs enqueued before its first entry may
   * have lost their dead-letter, redrive or purge entries and are out of the window too. The later
   * of the two; '0-0' while nothing was trimmed. (With completions in DynamoDB alone, the outcomes
   * stream gets few entries, and the enqueued stream, one record a tick, is usually trimmed first.)
   */
  async checkWindow(): Promise<string> {
    const [enqueued, outcomes] = await Promise.all([
      this.trimmedBefore(this.enqueuedKey),
      this.trimmedBefore(this.outcomesKey),
    ]);
    const fromEnqueued = enqueued ? streamIdBefore(enqueued) : '0-0';
    const fromOutcomes = outcomes ?? '0-0';
    return compareStreamIds(fromEnqueued, fromOutcomes) >= 0 ? fromEnqueued : fromOutcomes;
  }

  /** The first entry still held in `key` if trimming dropped some before it. */
  private async trimmedBefore(key: string): Promise<string | undefined> {
    // Length, entries ever added and the first entry from one XINFO reply: read apart, an entry
    // landing in between would look like trimming and hide every job from the check.
    let info: unknown[];
    try {
      info = (await this.redis.call('XINFO', 'STREAM', key)) as unknown[];
    } catch {
      return undefined; // no stream yet
    }
    const value = (name: string) => info[info.indexOf(name) + 1];
    const length = Number(value('length'));
    const added = Number(value('entries-added'));
    const first = value('first-entry') as [string, string[]] | null;
    return added > length && first ? first[0] : undefined;
  }

  /** Every job enqueued after `after`, by id (a job recorded twice, by a retried tick, counts once). */
  async readEnqueued(after = '0-0'): Promise<Map<string, LedgerJob>> {
    const jobs = new Map<string, LedgerJob>();
    for await (const fields of this.range(this.enqueuedKey, after))
      for (const job of parseJobs(fields)) jobs.set(job.id, job);
    return jobs;
  }

  /** The latest outcome of every job with one after `after`. */
  async readOutcomes(after = '0-0'): Promise<Map<string, Outcome>> {
    const outcomes = new Map<string, Outcome>();
    for await (const fields of this.range(this.outcomesKey, after)) {
      const id = field(fields, 'id');
      const outcome = field(fields, 'o') as Outcome | undefined;
      if (id && outcome) outcomes.set(id, outcome);
    }
    return outcomes;
  }

  private async *range(key: string, after: string): AsyncIterable<string[]> {
    let start = `(${after}`;
    for (;;) {
      const page = await this.redis.xrange(key, start, '+', 'COUNT', 1000);
      for (const [, fields] of page) yield fields;
      const lastId = page.at(-1)?.[0];
      if (!lastId || page.length < 1000) return;
      start = `(${lastId}`;
    }
  }
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function parseJobs(fields: string[]): LedgerJob[] {
  const json = field(fields, 'jobs');
  return json ? (JSON.parse(json) as LedgerJob[]) : [];
}

/** The stream id just before `id`: reading "after" it reads `id` too. */
function streamIdBefore(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  if (seq !== '0') return `${ms}-${BigInt(seq) - 1n}`;
  return ms === '0' ? '0-0' : `${BigInt(ms) - 1n}-18446744073709551615`;
}

/** Orders two stream ids (`ms-seq`). */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
