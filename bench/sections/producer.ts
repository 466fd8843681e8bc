// 7. Producer: enqueue rate of the project's producer tick (ledger entry, then addBulk), of a bare
// addBulk, and of one add per job awaited in turn (what a naive producer does).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Producer } from '../../producer/producer.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { openJobSystem } from '../../shared/wiring.js';
import { progress } from '../report.js';
import { type BenchServices, devNullLogger, dropPrefix, runConfig } from '../support.js';
import { benchGenerator, fillQueue, generate } from '../workload.js';

export interface ProducerResult {
  producerTickPerSec: number;
  addBulkPerSec: number;
  addPerSec: number;
  bulkJobs: number;
  singleJobs: number;
}

type RunConfig = ReturnType<typeof runConfig>['config'];

export async function producerRates(
  services: BenchServices,
  options: { bulkJobs: number; singleJobs: number },
): Promise<ProducerResult> {
  const run = async (label: string, jobs: number, enqueue: (config: RunConfig, redis: Redis) => Promise<void>) => {
    const { config } = runConfig(services, label);
    const redis = new Redis(services.redis.url, { maxRetriesPerRequest: null });
    progress('producer', `${label}: ${jobs} jobs`);
    const started = performance.now();
    await enqueue(config, redis);
    const rate = jobs / ((performance.now() - started) / 1000);
    await dropPrefix(services.control, config.QUEUE_PREFIX);
    redis.disconnect();
    return rate;
  };

  const producerTickPerSec = await run('producer-tick', options.bulkJobs, async (config, redis) => {
    // History goes to memory: this measures the producer's Redis path, not DynamoDB.
    const system = openJobSystem({
      config,
      redis,
      stores: createMemoryStores(),
      logger: devNullLogger(),
      actor: 'producer',
    });
    const producer = new Producer({
      lifecycle: system.lifecycle,
      generator: benchGenerator(config),
      intervalMs: 1,
      perTick: 1000,
      maxOperations: options.bulkJobs,
      logger: devNullLogger(),
    });
    while (!producer.done) await producer.tick();
    await system.close();
  });
  // Drawn before the clock starts: these two measure the enqueue alone.
  const bulk = generate(benchGenerator(runConfig(services, 'draw').config), options.bulkJobs);
  const single = bulk.slice(0, options.singleJobs);
  const addBulkPerSec = await run('add-bulk', options.bulkJobs, async (config, redis) => {
    const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
    await fillQueue(queue, bulk, operationJobOptions(config));
    await queue.close();
  });
  const addPerSec = await run('add-one-by-one', options.singleJobs, async (config, redis) => {
    const queue = new Queue(config.QUEUE_NAME, { connection: redis, prefix: config.QUEUE_PREFIX });
    const jobOptions = operationJobOptions(config);
    for (const job of single) {
      await queue.add(job.name, job.data, { ...jobOptions, jobId: job.id });
    }
    await queue.close();
  });
  return { producerTickPerSec, addBulkPerSec, addPerSec, bulkJobs: options.bulkJobs, singleJobs: options.singleJobs };
}
