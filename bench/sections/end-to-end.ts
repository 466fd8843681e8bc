// 2 and 3. End to end against dynalite (out of process): the full project (event-sourced writes,
// history on, default mix) against a naive BullMQ worker doing one PutItem per job, and the
// ceiling: what dynalite sustains from a tight client loop. All at the same concurrency. The
// project's run also counts every DynamoDB call a job causes, the producer's acceptance included
// (outside the timed window), by read and write and by kind of item (bench/dynamo-units.ts).
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { GeneratedJob } from '../../producer/generator.js';
import { pendingTargets } from '../../shared/domain/payload.js';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import type { DynamoCall } from '../../shared/dynamo/instrumentation.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { createDynamoStores } from '../../shared/store/index.js';
import type { Stores } from '../../shared/store/types.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { DynamoUnits, type UnitsPerJob } from '../dynamo-units.js';
import { progress } from '../report.js';
import {
  type BenchServices,
  CONCURRENCY,
  createTable,
  devNullLogger,
  dropPrefix,
  round,
  runConfig,
  waitForOutcomes,
  watchTable,
} from '../support.js';
import { benchGenerator, fillQueue, generate, seedUsers } from '../workload.js';

/** Counts DynamoDB calls by command, and the capacity units they consumed (ReturnConsumedCapacity): rates. */
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
  /** Requests per job of the workers alone (the window requestsPerSec is measured over). */
  requestsPerJob: number;
  historyRequestsPerJob: number;
  requestsByCommand: Record<string, number>;
  /** The producer's acceptance writes went in ticks of this many jobs (one BatchWriteItem per tick). */
  acceptTickJobs?: number;
  /**
   * Every DynamoDB call a job causes, per job: the producer's acceptance, the worker's reads and
   * writes, its decision, its history; by read and write, and by kind of item (dynamo-units.ts).
   */
  perJob?: UnitsPerJob;
  /** What deciding write jobs from their linked event instead of an OUTCOME write would save, per job. */
  outcomeWriteOfWriteJobs?: { writeJobShare: number; requests: number; writeUnits: number; indexWriteUnits: number };
}

/** The producer's tick in the latency and Redis sections (200 jobs/s, a tick every 10 ms): 2 jobs. */
const ACCEPT_TICK_JOBS = 2;

/** Accepts the jobs as the producer does before adding them (DynamoDB's acceptance, tick by tick). */
async function acceptAsProducer(stores: Stores, work: readonly GeneratedJob[]): Promise<void> {
  for (let i = 0; i < work.length; i += ACCEPT_TICK_JOBS * 25) {
    const ticks = Array.from({ length: 25 }, (_, t) =>
      work.slice(i + t * ACCEPT_TICK_JOBS, i + (t + 1) * ACCEPT_TICK_JOBS),
    );
    await Promise.all(ticks.filter((tick) => tick.length > 0).map((tick) => stores.jobs.accept(tick)));
  }
}

/** The decision writes of the jobs that write a user: what skipping their OUTCOME write would save. */
function outcomeWritesOfWriteJobs(units: DynamoUnits, work: readonly GeneratedJob[]) {
  const perJob = (n: number) => round(n / work.length, 3);
  const saved = { requests: 0, writeUnits: 0, indexWriteUnits: 0 };
  let writeJobs = 0;
  for (const job of work) {
    if (pendingTargets(job.name, job.data).length === 0) continue;
    writeJobs += 1;
    const decisions = units.decisionsByJob.get(job.id);
    if (!decisions) continue;
    saved.requests += decisions.requests;
    saved.writeUnits += decisions.writeUnits;
    saved.indexWriteUnits += decisions.indexWriteUnits;
  }
  return {
    writeJobShare: perJob(writeJobs),
    requests: perJob(saved.requests),
    writeUnits: perJob(saved.writeUnits),
    indexWriteUnits: perJob(saved.indexWriteUnits),
  };
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
  const units = new DynamoUnits().attach(dynamo.client);
  const base = createDynamoStores(dynamo, config);
  const seeded = await seedUsers(base);
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
  const work = generate(benchGenerator(config, seeded), jobs);
  units.reset(); // the seeding is set-up; from here every call belongs to these jobs
  await acceptAsProducer(base, work);
  await fillQueue(queue, work, operationJobOptions(config));
  // Its own client: neither counter counts the polls.
  const watch = watchTable(config).add(work.map((job) => job.id));

  counter.reset(); // the window's rates are the workers' alone
  const started = Date.now();
  const service = startWorkerService({ config, stores: base, redis, logger: devNullLogger(), metrics });
  const settled = await waitForOutcomes(watch, jobs, (done) => progress('end to end', `project ${done}/${jobs}`));
  const callsInWindow = counter.total;
  const unitsInWindow = counter.capacityUnits;
  await service.close(); // flushes the last history batch, which belongs to these jobs
  watch.close();
  const seconds = (settled.lastAt - started) / 1000;
  const perJob = units.perJob(jobs);
  const result: ProjectRun = {
    jobs,
    jobsPerSec: jobs / seconds,
    requestsPerSec: callsInWindow / seconds,
    capacityUnitsPerSec: unitsInWindow / seconds,
    requestsPerJob: counter.total / jobs,
    historyRequestsPerJob: perJob.byKind.history?.requests ?? 0,
    requestsByCommand: Object.fromEntries(counter.byCommand),
    acceptTickJobs: ACCEPT_TICK_JOBS,
    perJob,
    outcomeWriteOfWriteJobs: outcomeWritesOfWriteJobs(units, work),
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

/** A baseline's own table, and a DynamoDB client whose every call it counts. */
async function countedBaseline(services: BenchServices, label: string) {
  const { config } = runConfig(services, label);
  await createTable(config);
  const counter = new CallCounter();
  return { config, counter, dynamo: createDynamoClients(config, counter.observe) };
}

/** One PutItem per job: no event store, no history, no idempotency, no ledger. */
export async function naiveRun(services: BenchServices, jobs: number): Promise<BaselineRun> {
  const { config, counter, dynamo } = await countedBaseline(services, 'naive');
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
  const { config, counter, dynamo } = await countedBaseline(services, 'ceiling');
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
