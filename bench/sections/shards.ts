// Outgrowing one machine, measured: the producer's and a worker's jobs/s on a loopback Redis Cluster
// (3 masters + 3 replicas) with QUEUE_SHARDS=1 against QUEUE_SHARDS=3, same run, same job mix, the
// stores in memory (this measures the queue path, not DynamoDB). On one 2-core machine every
// shard's master shares those cores: the figure shows what sharding costs, not what it gains. The
// 3 shards' masters are read back (CLUSTER SHARDS): the figure is 1 master against 3 only if they differ.

import { startRedisCluster } from '../../devtools/local-services.js';
import { Producer } from '../../producer/producer.js';
import { allShardKeys } from '../../shared/lifecycle/keys.js';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import { readPlacement } from '../../shared/runtime/cluster-placement.js';
import { connectRedis } from '../../shared/runtime/redis.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { openShardedSystem } from '../../shared/wiring.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { progress } from '../report.js';
import { type BenchServices, devNullLogger, OutcomeWatch, round, runConfig } from '../support.js';
import { benchGenerator, seedUsers } from '../workload.js';

export interface ShardRun {
  shards: number;
  jobs: number;
  producerJobsPerSec: number;
  workerJobsPerSec: number;
}

export interface ShardsResult {
  /** The median round's runs. */
  one: ShardRun;
  three: ShardRun;
  rounds: number;
  /** 3 shards ÷ 1 shard within each back-to-back round: median, and the range over the rounds. */
  producerRatio: number;
  workerRatio: number;
  producerRatioRange: [number, number];
  workerRatioRange: [number, number];
  /** Distinct masters serving the 3 shards (3: each shard on its own master). */
  mastersOfThreeShards: number;
}

async function shardRun(services: BenchServices, nodes: string, shards: number, jobs: number): Promise<ShardRun> {
  const { config } = runConfig(services, `shards${shards}`, { REDIS_CLUSTER_NODES: nodes, QUEUE_SHARDS: shards });
  const redis = connectRedis(config);
  const stores = createMemoryStores();
  const seeded = await seedUsers(stores);
  const logger = devNullLogger();
  const producerSide = openShardedSystem({ config, redis, stores, logger, actor: 'producer' });
  const producer = new Producer({
    shards: producerSide.shards.map((s) => s.lifecycle),
    shardOf: producerSide.shardOf,
    generator: benchGenerator(config, seeded),
    intervalMs: 1,
    perTick: 500,
    maxOperations: jobs,
    logger,
  });
  progress('shards', `${shards} shard(s): producing ${jobs}`);
  const produceStarted = performance.now();
  while (!producer.done) await producer.tick();
  const producerJobsPerSec = jobs / ((performance.now() - produceStarted) / 1000);

  // The produced jobs, read once from the ledgers; their outcomes from the records as they settle.
  const watch = new OutcomeWatch(new DecidedOutcomes(stores.jobs));
  for (const shard of producerSide.shards) watch.add((await shard.ledger.readEnqueued()).keys());
  const settled = () => watch.poll();
  const workStarted = performance.now();
  const service = startWorkerService({ config, stores, redis, logger, metrics: new WorkerMetrics(false) });
  for (let done = await settled(); done < jobs; done = await settled()) {
    progress('shards', `${shards} shard(s): ${done}/${jobs}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const workerJobsPerSec = jobs / ((performance.now() - workStarted) / 1000);
  await service.close(10_000);
  await producerSide.close();
  redis.disconnect();
  return { shards, jobs, producerJobsPerSec: round(producerJobsPerSec), workerJobsPerSec: round(workerJobsPerSec) };
}

export async function shardsSection(
  services: BenchServices,
  options: { jobs: number; rounds: number; portRange?: [number, number] },
): Promise<ShardsResult> {
  const cluster = await startRedisCluster(options.portRange ? { portRange: options.portRange } : {});
  try {
    const { config } = runConfig(services, 'shards-placement', { REDIS_CLUSTER_NODES: cluster.nodes, QUEUE_SHARDS: 3 });
    const redis = connectRedis(config);
    const placement = await readPlacement(redis, allShardKeys(config));
    redis.disconnect();
    const mastersOfThreeShards = new Set(placement?.shards.map((s) => s.master)).size;
    // Back-to-back pairs, the order alternating: the machine's noise hits both sides of a ratio alike.
    const pairs: { one: ShardRun; three: ShardRun }[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const first = await shardRun(services, cluster.nodes, r % 2 === 0 ? 1 : 3, options.jobs);
      const second = await shardRun(services, cluster.nodes, r % 2 === 0 ? 3 : 1, options.jobs);
      pairs.push(first.shards === 1 ? { one: first, three: second } : { one: second, three: first });
    }
    const ratios = (pick: (run: ShardRun) => number) =>
      pairs.map((p) => pick(p.three) / pick(p.one)).sort((a, b) => a - b);
    const producer = ratios((run) => run.producerJobsPerSec);
    const worker = ratios((run) => run.workerJobsPerSec);
    const mid = Math.floor(pairs.length / 2);
    const byProducer = [...pairs].sort(
      (a, b) =>
        a.three.producerJobsPerSec / a.one.producerJobsPerSec - b.three.producerJobsPerSec / b.one.producerJobsPerSec,
    );
    const median = byProducer[mid] as { one: ShardRun; three: ShardRun };
    const range = (sorted: number[]): [number, number] => [round(sorted[0] ?? 0, 2), round(sorted.at(-1) ?? 0, 2)];
    return {
      one: median.one,
      three: median.three,
      rounds: pairs.length,
      producerRatio: round(producer[mid] ?? 0, 2),
      workerRatio: round(worker[mid] ?? 0, 2),
      producerRatioRange: range(producer),
      workerRatioRange: range(worker),
      mastersOfThreeShards,
    };
  } finally {
    await cluster.stop();
  }
}
