// 2 and 3. End to end against dynalite (out of process): the full project (event-sourced writes,
// history on, default mix) against a naive BullMQ worker doing one PutItem per job, and the
// ceiling: what dynalite sustains from a tight client loop. All at the same concurrency.
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import type { DynamoCall } from '../../shared/dynamo/instrumentation.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { progress } from '../report.js';
import {
  type BenchServices,
  CONCURRENCY,
  createTable,
  devNullLogger,
  dropPrefix,
  runConfig,
  waitForOutcomes,
  watchTable,
} from '../support.js';
import { benchGenerator, fillQueue, generate, seedUsers } from '../workload.js';

/** Counts DynamoDB calls by command, and the capacity units they consumed (ReturnConsumedCapacity). */
class CallCounter {
  readonly byCommand = new Map<string, number>();
  total = 0;
  capacityUnits = 0;
  observe = (call: DynamoCall): void => {
    this.total += 1;
    this.capacityUnits += call.capacityUnits;
    this.byCommand.set(call.command, (this.byCommand.get(call.command) ?? 0) + 1);
  };
  reset(): void {
    this.total = 0;
    this.capacityUnits = 0;
    this.byCommand.clear();
  }
}

export interface ProjectRun {
  jobs: number;
  jobsPerSec: number;
  requestsPerSec: number;
  /** Read and write capacity units consumed per second (dynalite reports them as DynamoDB would). */
  capacityUnitsPerSec?: number;
  capacityUnitsPerJob?: number;
  requestsPerJob: number;
  historyRequestsPerJob: number;
  requestsByCommand: Record<string, number>;
}

export async function projectRun(services: BenchServices, jobs: number, label = 'e2e'): Promise<ProjectRun> {
  const { config } = runConfig(services, label);
  await createTable(config);
  const counter = new CallCounter();
  const metrics = new WorkerMetrics();
  const dynamo = createDynamoClients(config, (call) => {
    counter.observe(call);
    metrics.dynamoCall(call);
  });
  const base = createDynamoStores(dynamo, config);
  const seeded = await seedUsers(base);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  const work = generate(benchGenerator(config, seeded), jobs);
  await fillQueue(queue, work, operationJobOptions(config));
  // Its own client: the counter counts the workers' calls only.
  const watch = watchTable(config).add(work.map((job) => job.id));

  counter.reset();
  const started = Date.now();
  const service = startWorkerService({ config, stores: base, redis, logger: devNullLogger(), metrics });
  const settled = await waitForOutcomes(watch, jobs, (done) => progress('end to end', `project ${done}/${jobs}`));
  const callsInWindow = counter.total;
  const unitsInWindow = counter.capacityUnits;
  await service.close(); // flushes the last history batch, which belongs to these jobs
  watch.close();
  const seconds = (settled.lastAt - started) / 1000;
  const result: ProjectRun = {
    jobs,
    jobsPerSec: jobs / seconds,
    requestsPerSec: callsInWindow / seconds,
    capacityUnitsPerSec: unitsInWindow / seconds,
    capacityUnitsPerJob: counter.capacityUnits / jobs,
    requestsPerJob: counter.total / jobs,
    historyRequestsPerJob: (counter.byCommand.get('BatchWriteItemCommand') ?? 0) / jobs,
    requestsByCommand: Object.fromEntries(counter.byCommand),
  };
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  dynamo.close();
  return result;
}

export interface BaselineRun {
  jobsPerSec: number;
  requestsPerSec: number;
  capacityUnitsPerSec?: number;
}

/** One PutItem per job: no event store, no history, no idempotency, no ledger. */
export async function naiveRun(services: BenchServices, jobs: number): Promise<BaselineRun> {
  const { config } = runConfig(services, 'naive');
  await createTable(config);
  const counter = new CallCounter();
  const dynamo = createDynamoClients(config, counter.observe);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  await fillQueue(queue, generate(benchGenerator(config), jobs), operationJobOptions(config));
  let done = 0;
  const started = performance.now();
  const elapsedMs = await new Promise<number>((resolve) => {
    const worker = new Worker(
      config.QUEUE_NAME,
      async (job) => {
        await dynamo.doc.send(
          new PutCommand({
            TableName: config.DYNAMODB_TABLE_NAME,
            Item: { pk: `NAIVE#${job.id}`, sk: 'ITEM', op: job.name, data: job.data },
          }),
        );
      },
      { connection: redis, prefix: config.QUEUE_PREFIX, concurrency: CONCURRENCY },
    );
    worker.on('completed', () => {
      done += 1;
      if (done % 200 === 0) progress('end to end', `naive worker ${done}/${jobs}`);
      if (done === jobs) {
        const elapsed = performance.now() - started;
        void worker.close().then(() => resolve(elapsed));
      }
    });
  });
  const seconds = elapsedMs / 1000;
  await queue.close();
  await dropPrefix(services.control, config.QUEUE_PREFIX);
  redis.disconnect();
  dynamo.close();
  return {
    jobsPerSec: jobs / seconds,
    requestsPerSec: counter.total / seconds,
    capacityUnitsPerSec: counter.capacityUnits / seconds,
  };
}

/** The backend's limit: CONCURRENCY loops each sending PutItem back to back for `seconds`. */
export interface CeilingRun {
  requestsPerSec: number;
  capacityUnitsPerSec?: number;
}

export async function ceilingRun(services: BenchServices, seconds: number): Promise<CeilingRun> {
  const { config } = runConfig(services, 'ceiling');
  await createTable(config);
  const counter = new CallCounter();
  const dynamo = createDynamoClients(config, counter.observe);
  const deadline = performance.now() + seconds * 1000;
  let sent = 0;
  const loop = async (lane: number) => {
    for (let i = 0; performance.now() < deadline; i++) {
      await dynamo.doc.send(
        new PutCommand({
          TableName: config.DYNAMODB_TABLE_NAME,
          Item: {
            pk: `CEILING#${lane}#${i}`,
            sk: 'ITEM',
            data: { name: 'Ceiling User', age: 42, department: 'Sales' },
          },
        }),
      );
      sent += 1;
      if (sent % 500 === 0) progress('backend ceiling', `${sent} requests`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, lane) => loop(lane)));
  const elapsed = (performance.now() - started) / 1000;
  dynamo.close();
  return { requestsPerSec: sent / elapsed, capacityUnitsPerSec: counter.capacityUnits / elapsed };
}
