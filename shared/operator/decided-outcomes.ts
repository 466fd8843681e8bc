// What DynamoDB decided for given job ids: the one reader everything that counts finished jobs uses
// (djq check, npm start's summary and --until-drained, chaos, the bench, tests), instead of a
// per-job `completed` entry in Redis that would repeat the decision (docs/redis-cost.md).
import type { JobOutcome, JobRecord, JobRecordStore } from '../store/types.js';

export interface DecidedOutcome {
  outcome: JobOutcome;
  /** Epoch ms of the mark that decided it (its writer's clock). */
  at: number;
}

/** Never changes once decided: a redrive reopens only a dead-lettered generation. */
const FINAL: ReadonlySet<JobOutcome> = new Set(['completed', 'purged']);

/** Ids per getMany call (the store splits them into its own batches). */
const CHUNK = 1000;

/**
 * Decided outcomes of job ids, read in batches (JobRecordStore.getMany: BatchGetItem, consistent
 * reads). A final outcome is kept and never read again, so a caller polling the same ids (a
 * drain wait, the live summary) reads only what is still undecided or dead-lettered.
 */
export class DecidedOutcomes {
  private readonly final = new Map<string, DecidedOutcome>();

  constructor(private readonly records: Pick<JobRecordStore, 'getMany'>) {}

  /** The outcome standing now for each of `jobIds` that has one (undecided and unknown ids are absent). */
  async of(jobIds: Iterable<string>): Promise<Map<string, DecidedOutcome>> {
    const decided = new Map<string, DecidedOutcome>();
    const toRead: string[] = [];
    for (const id of jobIds) {
      const known = this.final.get(id);
      if (known) decided.set(id, known);
      else toRead.push(id);
    }
    for (let i = 0; i < toRead.length; i += CHUNK) {
      for (const record of await this.records.getMany(toRead.slice(i, i + CHUNK))) {
        const outcome = decidedOf(record);
        if (!outcome) continue;
        decided.set(record.jobId, outcome);
        if (FINAL.has(outcome.outcome)) this.final.set(record.jobId, outcome);
      }
    }
    return decided;
  }

  /** How many of `jobIds` stand decided `outcome` now. */
  async count(jobIds: Iterable<string>, outcome: JobOutcome = 'completed'): Promise<number> {
    let n = 0;
    for (const decided of (await this.of(jobIds)).values()) if (decided.outcome === outcome) n++;
    return n;
  }
}

/** The current generation's outcome and when it was decided (its last mark of that outcome). */
function decidedOf(record: JobRecord): DecidedOutcome | undefined {
  const { outcome } = record;
  if (!outcome) return undefined;
  const mark = record.marks.findLast((m) => m.outcome === outcome);
  return { outcome, at: mark ? Date.parse(mark.at) : Number.NaN };
}
