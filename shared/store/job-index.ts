// The index keys a job's records carry, so a job can be found long after Redis pruned it: by the
// users it touches (gsi2, USERJOBS#<userId>), by time within a state (gsi3: JOBS#<bucket> on
// the ACCEPTED item, STATE#<outcome>#<bucket> on the OUTCOME item once decided), and the same by
// operation (gsi4: OP#<op>#<bucket>, STATE#<outcome>#OP#<op>#<bucket>). The by-time keys are
// spread over JOB_INDEX_BUCKETS by a hash of the job id, so no index partition takes every write;
// a search reads every bucket and merges. Built here only: the store writes them, and
// `djq migrate` backfills them onto records written before they existed.
import { createHash } from 'node:crypto';
import { pendingTargets } from '../domain/payload.js';
import { JOB_INDEX_BUCKETS, keys } from '../dynamo/table.js';

/** The by-time bucket of a job: stable, and even over job ids. */
export function bucketOf(jobId: string): number {
  return createHash('md5').update(jobId).digest().readUInt32BE(0) % JOB_INDEX_BUCKETS;
}

/**
 * The users a job touches, as its payload names them: the ones it writes, or the one it reads.
 * An invalid payload still names the user it was meant for when it has a string id where one goes
 * (an operator looking for "what happened to user X" wants its poison jobs too).
 */
export function usersOf(name: string, data: unknown): string[] {
  const targets = pendingTargets(name, data);
  if (targets.length > 0) return [...new Set(targets)];
  const raw = (data ?? {}) as { userId?: unknown; user?: { id?: unknown } };
  const named = typeof raw.userId === 'string' ? raw.userId : raw.user?.id;
  return typeof named === 'string' && named.length > 0 ? [named] : [];
}

/** The ACCEPTED item's index attributes (its first user; the others get TOUCHES items). */
export function acceptedIndexKeys(jobId: string, name: string, data: unknown, at: string): Record<string, string> {
  const [first] = usersOf(name, data);
  const sk = keys.timeSk(at, jobId);
  const bucket = bucketOf(jobId);
  return {
    gsi3pk: keys.jobsPk(bucket),
    gsi3sk: sk,
    gsi4pk: keys.opPk(name, bucket),
    gsi4sk: sk,
    ...(first !== undefined ? { gsi2pk: keys.userJobsPk(first), gsi2sk: sk } : {}),
  };
}

/**
 * One small item per further user a job touches (a batch), each in that user's index. It expires
 * with the job's history (`expiresAt`, epoch seconds; DynamoDB's TTL): it is a finding aid, not
 * the record, and "what happened to user X" past the retention has no timeline to show.
 */
export function touchItems(
  jobId: string,
  name: string,
  data: unknown,
  at: string,
  retentionDays: number,
): Record<string, string | number>[] {
  const sk = keys.timeSk(at, jobId);
  const expiresAt = expiresAtOf(at, retentionDays);
  return usersOf(name, data)
    .slice(1)
    .map((userId) => ({
      pk: keys.jobPk(jobId),
      sk: keys.touchesSk(userId),
      gsi2pk: keys.userJobsPk(userId),
      gsi2sk: sk,
      expiresAt,
    }));
}

/** The TTL attribute (epoch seconds) of an item kept `retentionDays` after `at`, as the history's. */
export function expiresAtOf(at: string, retentionDays: number): number {
  return Math.floor(Date.parse(at) / 1000) + retentionDays * 86_400;
}

/**
 * The OUTCOME item's index attributes for an outcome decided at `at`: by state, and by state and
 * operation when the operation is known (a record of an earlier release may lack its acceptance).
 */
export function outcomeIndexKeys(jobId: string, outcome: string, at: string, op: string | undefined) {
  const bucket = bucketOf(jobId);
  const sk = keys.timeSk(at, jobId);
  return {
    gsi3pk: keys.statePk(outcome, bucket),
    gsi3sk: sk,
    ...(op !== undefined ? { gsi4pk: keys.stateOpPk(outcome, op, bucket), gsi4sk: sk } : {}),
  };
}

/** The job id in a by-time or by-user sort key (`<at>#<jobId>`; ISO times hold no '#'). */
export function jobIdOfTimeSk(sk: string): string {
  return sk.slice(sk.indexOf('#') + 1);
}
