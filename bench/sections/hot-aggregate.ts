// A hot aggregate: N valid updates of one user, from 4 worker processes at concurrency 16 (the
// defaults' shape), against the serial ceiling: one worker at concurrency 1 on the same user, where
// nothing ever conflicts. Also counted: conflicts per job (rounds lost to another writer inside the
// write path, plus put-backs of a job that lost every round) and dead-lettered jobs (must be 0).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { openQueues, operationJobOptions } from '../../shared/lifecycle/queues.js';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import { verifyProjection } from '../../shared/operator/replay.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { UserCommands } from '../../worker/user-commands.js';
import { spawnWorker, type WorkerChild } from '../children.js';
import { progress } from '../report.js';
import { waitForWorkers } from '../run-queue.js';
import {
  type BenchServices,
  createTable,
  dropPrefix,
  OutcomeWatch,
  round,
  runConfig,
  steadyRate,
  waitForOutcomes,
} from '../support.js';

export interface HotAggregateRun {
  workers: number;
  concurrency: number;
  jobs: number;
  jobsPerSec: number;
  /** Write-path rounds lost to another writer, per job. */
  conflictRoundsPerJob: number;
  /** Times a job was put back (it lost every round of one run), per job. */
  putBacksPerJob: number;
  deadLettered: number;
  /** The user's stream holds each job's event once and the projection equals its fold. */
  verified: boolean;
}

export interface HotAggregateResult {
  serial: HotAggregateRun;
  contended: HotAggregateRun;
  /** Contended jobs/s ÷ serial jobs/s: target ≥ 0.8. */
  share: number;
}

async function hotRun(
  services: BenchServices,
  shape: { workers: number; concurrency: number; jobs: number },
): Promise<HotAggregateRun> {
  const label = `hot${shape.workers}x${shape.concurrency}`;
  const { config, env } = runConfig(services, label, {
    WORKER_CONCURRENCY: shape.concurrency,
    // Every job is kept, so its put-backs and conflicts can be read after the run.
    JOB_KEEP_COMPLETED: shape.jobs + 100,
  });
  await createTable(config);
  const dynamo = createDynamoClients(config);
  const stores = createDynamoStores(dynamo, config);
  const userId = randomUUID();
  await new UserCommands({ events: stores.events, users: stores.users }).create(`seed-${userId}`, {
    id: userId,
    name: 'Hot User',
    email: 'hot@example.com',
    age: 30,
    department: 'Engineering',
  });
  const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
  const keys = queueKeys(config);
  const queues = openQueues(keys, redis);
  const { operations: queue, deadLetter } = queues;
  await queue.pause();
  const ids = Array.from({ length: shape.jobs }, () => randomUUID());
  const options = operationJobOptions(config);
  for (let i = 0; i < ids.length; i += 1000) {
    await queue.addBulk(
      ids.slice(i, i + 1000).map((jobId, j) => ({
        name: 'update-user',
        data: { userId, changes: { age: 18 + ((i + j) % 80) } },
        opts: { ...options, jobId },
      })),
    );
  }
  const children: WorkerChild[] = [];
  try {
    for (let i = 0; i < shape.workers; i++) children.push(spawnWorker({ ...env, WORKER_ID: `${env.WORKER_ID}-${i}` }));
    await waitForWorkers(queue, children, () => progress('hot aggregate', `${shape.workers} worker(s) starting`));
    await sleep(2000); // registered is not warm
    const watch = new OutcomeWatch(new DecidedOutcomes(stores.jobs)).add(ids);
    await queue.resume();
    await waitForOutcomes(watch, shape.jobs, (done) =>
      progress('hot aggregate', `${shape.workers} × ${shape.concurrency}: ${done}/${shape.jobs}`),
    );
    const jobsPerSec = steadyRate(watch);
    let conflictRounds = 0;
    let putBacks = 0;
    for (let i = 0; i < ids.length; i += 500) {
      const jobs = await Promise.all(ids.slice(i, i + 500).map((id) => queue.getJob(id)));
      for (const job of jobs) {
        conflictRounds += (job?.returnvalue as { conflicts?: number } | undefined)?.conflicts ?? 0;
        // Each start beyond the first that used no attempt was a put-back.
        putBacks += Math.max(0, (job?.attemptsStarted ?? 1) - 1 - (job?.attemptsMade ?? 0));
      }
    }
    const report = await verifyProjection(stores.events, stores.users);
    return {
      ...shape,
      jobsPerSec: round(jobsPerSec, 1),
      conflictRoundsPerJob: round(conflictRounds / shape.jobs, 3),
      putBacksPerJob: round(putBacks / shape.jobs, 3),
      deadLettered: await deadLetter.getWaitingCount(),
      verified:
        report.mismatches.length === 0 && report.duplicateEvents.length === 0 && report.events === shape.jobs + 1,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await queues.close();
    await dropPrefix(services.control, config.QUEUE_PREFIX);
    redis.disconnect();
    dynamo.close();
  }
}

export async function hotAggregate(services: BenchServices, jobs: number): Promise<HotAggregateResult> {
  const serial = await hotRun(services, { workers: 1, concurrency: 1, jobs });
  const contended = await hotRun(services, { workers: 4, concurrency: 16, jobs });
  return { serial, contended, share: round(contended.jobsPerSec / serial.jobsPerSec, 3) };
}
