// A real pipeline for the board tests: our worker service on Redis and dynalite, one completed job
// and one dead-lettered (poison) job in an isolated queue prefix, and boards started on top of it.
import { randomUUID } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { type Board, startBoard } from '../../board/board-server.js';
import type { DeadLetterEntry } from '../../shared/lifecycle/dead-letter.js';
import { operationJobOptions, type Queues } from '../../shared/lifecycle/queues.js';
import type { Config } from '../../shared/runtime/config.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService, type WorkerService } from '../../worker/worker-service.js';
import { pruneFromRedis, waitFor } from '../helpers/pipeline.js';
import { openTestResources, type TestEnv, type TestResources, testEnv } from '../helpers/stack.js';

export { pruneFromRedis, waitFor };

export const silent = pino({ level: 'silent' });

export interface BoardFixture {
  env: TestEnv;
  config: Config;
  resources: TestResources;
  queues: Queues;
  worker: WorkerService;
  completedJobId: string;
  poisonJobId: string;
  /** A board on the fixture's queues, on a free loopback port; closed by `close()`. */
  startBoard(overrides?: Partial<Config>, logger?: Logger): Promise<Board>;
  /** Enqueues a job the worker dead-letters after one attempt (a create-user with a malformed user). */
  enqueuePoison(): Promise<string>;
  /** Waits until the job is in the DLQ with `attemptsMade` attempts, and returns its entry. */
  deadLettered(jobId: string, attemptsMade?: number): Promise<DeadLetterEntry>;
  close(): Promise<void>;
}

export async function startBoardFixture(overrides: Record<string, string | number | boolean> = {}) {
  const env = testEnv(overrides);
  const { config } = env;
  const resources = await openTestResources(config);
  const worker = startWorkerService({
    config,
    stores: resources.stores,
    redis: resources.redis,
    logger: silent,
    metrics: new WorkerMetrics(false),
  });
  const { queues } = worker.system;
  const boards: Board[] = [];
  const options = operationJobOptions(config);

  const deadLettered = (jobId: string, attemptsMade = 1) =>
    waitFor(`${jobId} in the DLQ after ${attemptsMade} attempt(s)`, async () => {
      const job = await queues.deadLetter.getJob(jobId);
      const data = job?.data as DeadLetterEntry | undefined;
      return data?.attemptsMade === attemptsMade ? { ...data, jobId } : undefined;
    });

  const enqueuePoison = async () => {
    const jobId = randomUUID();
    await queues.operations.add('create-user', { user: { name: 42 } }, { ...options, jobId });
    return jobId;
  };

  const completedJobId = randomUUID();
  // A user that does not exist: the job completes with found:false, no setup needed.
  await queues.operations.add('get-user', { userId: randomUUID() }, { ...options, jobId: completedJobId });
  const poisonJobId = await enqueuePoison();
  await waitFor(
    'the get-user job to complete',
    async () => (await queues.operations.getJobState(completedJobId)) === 'completed',
  );
  await deadLettered(poisonJobId);

  const fixture: BoardFixture = {
    env,
    config,
    resources,
    queues,
    worker,
    completedJobId,
    poisonJobId,
    async startBoard(configOverrides = {}, logger = silent) {
      const board = await startBoard({
        config: { ...config, ...configOverrides },
        redis: resources.redis,
        logger,
        host: '127.0.0.1',
        port: 0,
      });
      boards.push(board);
      return board;
    },
    enqueuePoison,
    deadLettered,
    async close() {
      await Promise.all(boards.map((b) => b.close()));
      await worker.close(10_000);
      await queues.close();
      await resources.cleanup();
    },
  };
  return fixture;
}
