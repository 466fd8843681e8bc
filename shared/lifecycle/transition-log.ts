// One log line per transition, the same from every process: a person reads the message, a machine
// parses the fields (jobId, op, attempt, durationMs, dynamoMs, capacityUnits, dynamoCalls, reason…). What
// every job does (enqueued, started, completed) is at debug: at info a run of thousands of jobs
// prints its lifecycle and what went wrong, not a line per job (npm start's summary counts them).
import type { Logger } from '../runtime/logger.js';
import type { JobLifecycle } from './job-lifecycle.js';
import { handleTransition, type LostReason, type PerTransition } from './transition.js';

export function logTransitions(lifecycle: JobLifecycle, logger: Logger): () => void {
  return lifecycle.onTransition((t) => handleTransition(LOG, t, logger));
}

/** Each kind of transition's line. Exhaustive: a new kind must say what it logs. */
const LOG: PerTransition<void, [Logger]> = {
  enqueued: (t, logger) => {
    if (!logger.isLevelEnabled('debug')) return;
    logger.debug({ jobs: t.jobs.length, ops: t.jobs.map((j) => j.name) }, `enqueued ${plural(t.jobs.length, 'job')}`);
  },
  recovered: (t, logger) =>
    logger.warn(
      { jobs: t.jobs.map((j) => j.id) },
      `re-added ${plural(t.jobs.length, 'job')} a previous producer recorded but never enqueued`,
    ),
  'attempt-started': (t, logger) => {
    // Every job passes here: the line is not even built at the default level (info).
    if (!logger.isLevelEnabled('debug')) return;
    logger.debug({ jobId: t.jobId, op: t.op, attempt: t.attempt }, `${t.op} attempt ${t.attempt} started`);
  },
  'attempt-failed': (t, logger) => {
    const { type: _type, actor: _actor, at: _at, message, final, ...fields } = t;
    if (t.stale)
      logger.info(
        { ...fields, err: message },
        `${t.op} attempt ${t.attempt} failed after its lock expired: not counted`,
      );
    else if (final) logger.error({ ...fields, err: message }, `${t.op} failed for good: ${message}`);
    else logger.warn({ ...fields, err: message }, `${t.op} attempt ${t.attempt} failed, will retry`);
  },
  completed: (t, logger) => {
    if (!logger.isLevelEnabled('debug')) return;
    const { type: _type, actor: _actor, at: _at, ...fields } = t;
    logger.debug(fields, `${t.op} completed in ${t.durationMs} ms (${t.dynamoMs} of them in DynamoDB)`);
  },
  'put-back': (t, logger) =>
    logger.debug(
      { jobId: t.jobId, op: t.op, attempt: t.attempt, delayMs: t.delayMs },
      `${t.op} put back for ${t.delayMs} ms (${t.reason}); no attempt used`,
    ),
  'lock-lost': (t, logger) =>
    logger.info(
      { jobId: t.jobId, op: t.op, attempt: t.attempt, reason: t.reason, stale: t.stale },
      t.stale
        ? `${t.op} delivery lost the decision (${LOST[t.reason]}) after its lock expired: it applied nothing and ends quietly`
        : `${t.op} delivery lost the decision (${LOST[t.reason]}): no attempt counted; the dead-letter move follows the decision`,
    ),
  'settled-completed': (t, logger) =>
    logger.debug({ jobId: t.jobId, op: t.op }, `job ${t.jobId} had landed before it failed: settled as completed`),
  'dead-lettered': (t, logger) => {
    const partial = t.landed ? ` (${t.landed.length} of its users landed)` : '';
    logger.info(
      { jobId: t.jobId, op: t.op, reason: t.reason, attempts: t.attempts, landed: t.landed, missing: t.missing },
      `job ${t.jobId} moved to the dead-letter queue${partial}: ${t.reason}`,
    );
  },
  redriven: (t, logger) =>
    logger.info({ jobId: t.jobId, op: t.op, by: t.actor }, `job ${t.jobId} redriven from the dead-letter queue`),
  purged: (t, logger) =>
    logger.info({ jobId: t.jobId, op: t.op, by: t.actor }, `job ${t.jobId} purged from the dead-letter queue`),
};

const LOST: Record<LostReason, string> = {
  barred: 'its job was barred by a dead-letter move',
  'decided-otherwise': 'its job was decided otherwise while it ran',
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
