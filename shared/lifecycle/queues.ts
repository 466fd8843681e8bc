// The queues both sides use, and the options every operation job is enqueued with.
import { type JobsOptions, Queue } from 'bullmq';
import type { Config } from '../runtime/config.js';
import type { RedisConnection } from '../runtime/redis.js';
import { tracing } from '../telemetry/tracing.js';
import type { QueueKeys } from './keys.js';

/**
 * Every operation job: retries with exponential backoff and jitter, and retention by age and count
 * so Redis memory stays bounded. Failed jobs are moved to the DLQ and removed, so the failed set
 * only ever holds jobs on their way there.
 */
export function operationJobOptions(
  config: Pick<
    Config,
    'JOB_ATTEMPTS' | 'JOB_BACKOFF_MS' | 'JOB_BACKOFF_JITTER' | 'JOB_KEEP_COMPLETED' | 'JOB_KEEP_AGE_SECONDS'
  >,
): JobsOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS, jitter: config.JOB_BACKOFF_JITTER },
    removeOnComplete: { age: config.JOB_KEEP_AGE_SECONDS, count: config.JOB_KEEP_COMPLETED },
    // Never trimmed by BullMQ: a failed job leaves the failed set only once the DLQ mover has moved
    // it, so a job the mover cannot move yet (DynamoDB down) waits there instead of being dropped.
    removeOnFail: false,
  };
}

export function openQueues(keys: QueueKeys, connection: RedisConnection) {
  // bullmq-otel when tracing is on: BullMQ's own spans, and each job carries its trace context.
  const telemetry = tracing().bullmq;
  const options = { connection, prefix: keys.prefix, ...(telemetry ? { telemetry } : {}) };
  const operations = new Queue(keys.operations, options);
  const deadLetter = new Queue(keys.deadLetter, options);
  return {
    operations,
    deadLetter,
    close: async () => {
      await Promise.all([operations.close(), deadLetter.close()]);
    },
  };
}

export type Queues = ReturnType<typeof openQueues>;
