// One wiring for every entry point (producer, worker, board, CLI, npm start, tests, bench, chaos):
// the queue's key names, both queues, the ledger, the job history and the job lifecycle, built
// from the config the same way everywhere, with no optional members. Callers bring the clients
// (Redis and the stores), because who owns a connection differs: a service, a test, a harness.
import type { Redis } from 'ioredis';
import { type HistoryRecorder, startHistoryRecorder } from './lifecycle/history.js';
import { JobLifecycle } from './lifecycle/job-lifecycle.js';
import { type QueueKeys, queueKeys } from './lifecycle/keys.js';
import { Ledger } from './lifecycle/ledger.js';
import { openQueues, operationJobOptions, type Queues } from './lifecycle/queues.js';
import { DEFAULT_TRANSITION_LOCK } from './lifecycle/transition-lock.js';
import { DlqConsole } from './operator/dlq-console.js';
import type { Config } from './runtime/config.js';
import type { Logger } from './runtime/logger.js';
import type { Stores } from './store/types.js';

export interface JobSystem {
  config: Config;
  keys: QueueKeys;
  queues: Queues;
  ledger: Ledger;
  /** This process's buffered job history (flushed by close(); tests flush it to read it back). */
  history: HistoryRecorder;
  lifecycle: JobLifecycle;
  /** The operator's DLQ actions (list, show, redrive, purge), shared by djq and the board. */
  console: DlqConsole;
  stores: Stores;
  /** Flushes the history and closes the queues; the caller closes its own Redis and DynamoDB clients. */
  close(): Promise<void>;
}

export interface JobSystemDeps {
  config: Config;
  /** A connection with maxRetriesPerRequest: null (BullMQ duplicates it for blocking calls). */
  redis: Redis;
  stores: Stores;
  logger: Logger;
  /** Who acts, in history and logs: a worker id, 'producer', 'djq', 'board'. */
  actor: string;
}

export function openJobSystem(deps: JobSystemDeps): JobSystem {
  const { config, redis, stores, logger, actor } = deps;
  const keys = queueKeys(config);
  const queues = openQueues(keys, redis);
  const ledger = new Ledger(redis, keys, config.LEDGER_MAX_ENTRIES);
  const history = startHistoryRecorder(config, stores.history, logger);
  const lifecycle = new JobLifecycle({
    redis,
    keys,
    queues,
    ledger,
    history,
    jobOptions: operationJobOptions(config),
    actor,
    lock: DEFAULT_TRANSITION_LOCK,
  });
  return {
    config,
    keys,
    queues,
    ledger,
    history,
    lifecycle,
    console: new DlqConsole(queues, lifecycle),
    stores,
    async close() {
      await history.close();
      await queues.close();
    },
  };
}

/** The read side alone (no DynamoDB, no actor): what `npm start`'s live summary reads. */
export function openQueueView(config: Config, redis: Redis) {
  const keys = queueKeys(config);
  const queues = openQueues(keys, redis);
  return { keys, queues, ledger: new Ledger(redis, keys, config.LEDGER_MAX_ENTRIES), close: () => queues.close() };
}
