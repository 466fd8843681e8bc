// DynamoDB round trips of each operation, counted rather than claimed: the worker's one line per
// job carries `dynamoCalls` (tallied by the SDK instrumentation), read back here from its log.
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { progress } from '../report.js';
import { type BenchServices, dropPrefix, runConfigWithTable, waitForOutcomes, watchTable } from '../support.js';
import { benchGenerator, fillQueue, generate, seedUsers } from '../workload.js';

export interface OperationTrips {
  jobs: number;
  min: number;
  max: number;
  mean: number;
  /** batch-create-users only: calls ÷ users in the batch. */
  perUser?: number;
}

export async function roundTrips(services: BenchServices, jobs: number): Promise<Record<string, OperationTrips>> {
  const { config } = await runConfigWithTable(services, 'trips');
  const dynamo = createDynamoClients(config);
  const stores = createDynamoStores(dynamo, config);
  const seeded = await seedUsers(stores, 200);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  const work = generate(benchGenerator(config, seeded), jobs);
  await fillQueue(queue, work, operationJobOptions(config));
  const watch = watchTable(config).add(work.map((job) => job.id));

  const calls = new Map<string, number[]>();
  let batchUsers = 0;
  const lines = new Writable({
    write(chunk, _encoding, done) {
      const entry = JSON.parse(String(chunk)) as { op?: string; dynamoCalls?: number; result?: { count?: number } };
      if (entry.op && entry.dynamoCalls !== undefined) {
        calls.set(entry.op, [...(calls.get(entry.op) ?? []), entry.dynamoCalls]);
        if (entry.op === 'batch-create-users') batchUsers += entry.result?.count ?? 0;
      }
      done();
    },
  });
  // debug: the per-job "completed" lines (with dynamoCalls) this section reads are at debug.
  const logger = pino({ level: 'debug' }, lines);
  const service = startWorkerService({ config, stores, redis, logger, metrics: new WorkerMetrics(false) });
  await waitForOutcomes(watch, jobs, (done) => progress('round trips per operation', `${done}/${jobs}`));
  await service.close();
  watch.close();
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  dynamo.close();

  const out: Record<string, OperationTrips> = {};
  for (const [op, counts] of [...calls].sort()) {
    const sum = counts.reduce((a, b) => a + b, 0);
    out[op] = {
      jobs: counts.length,
      min: Math.min(...counts),
      max: Math.max(...counts),
      mean: Math.round((sum / counts.length) * 100) / 100,
      ...(op === 'batch-create-users' && batchUsers > 0 ? { perUser: Math.round((sum / batchUsers) * 100) / 100 } : {}),
    };
  }
  return out;
}
