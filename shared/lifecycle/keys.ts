// Every Redis name of one logical queue, derived in one place (as BullMQ's QueueKeys does): the
// operations queue, its dead-letter queue, the ledger streams, redrive intents and the per-job
// transition locks. Nothing else concatenates key strings.
import type { Config } from '../runtime/config.js';

export type QueueKeys = ReturnType<typeof queueKeys>;

export function queueKeys(config: Pick<Config, 'QUEUE_PREFIX' | 'QUEUE_NAME'>) {
  const prefix = config.QUEUE_PREFIX;
  const operations = config.QUEUE_NAME;
  const base = `${prefix}:${operations}`;
  return {
    prefix,
    /** BullMQ queue names (BullMQ adds the prefix itself). */
    operations,
    deadLetter: `${operations}-dlq`,
    ledgerEnqueued: `${base}:ledger:enqueued`,
    ledgerOutcomes: `${base}:ledger:outcomes`,
    /** The id of the newest enqueued record whose addBulk is known to have succeeded. */
    ledgerCommitted: `${base}:ledger:committed`,
    /** jobId → instance timestamp of a redrive in progress (a write-ahead record; see JobLifecycle.redrive). */
    redriveIntents: `${base}:redrives`,
    /** jobId → when it was dead-lettered, for jobs failed by stalling (see recheckStalledDeadLetters). */
    stalledDeadLetters: `${base}:dlq:stalled`,
    /** Held while one of our transitions (move, redrive, purge, recover) changes this job id. */
    transitionLock: (jobId: string) => `${base}:transition:${jobId}`,
    /** BullMQ's own lock of an active job of the operations queue (holds the worker's token). */
    activeJobLock: (jobId: string) => `${base}:${jobId}:lock`,
    /** SCAN patterns: every key of this queue family (cleanup), and the dead-letter queue's keys. */
    everyKeyPattern: `${prefix}:*`,
    deadLetterKeyPattern: `${prefix}:${operations}-dlq:*`,
  };
}
