// Redis commands and round trips per job, through the real wiring: the producer (ledger entry,
// addBulk, commit mark) ticking at a fixed rate and one worker service (BullMQ's fetch and ack, the
// ledger's `completed`, lock renewals, stalled checks) on in-memory stores, against a redis-server of
// its own that nothing else talks to. Server side: INFO commandstats over the run ÷ jobs (a command
// run inside a Lua script counts under its own name, as Redis counts it). Client side: what the
// processes sent (scripts by name; a pipeline or MULTI block is one round trip).
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { startRedisServer } from '../../devtools/local-services.js';
import { Producer } from '../../producer/producer.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { openJobSystem } from '../../shared/wiring.js';
import { WorkerMetrics } from '../../worker/metrics.js';
import { startWorkerService } from '../../worker/worker-service.js';
import { countRedisRequests } from '../redis-requests.js';
import { commandStats, cpuSeconds } from '../redis-stats.js';
import { progress } from '../report.js';
import { type BenchServices, devNullLogger, round, runConfig } from '../support.js';
import { benchGenerator, seedUsers } from '../workload.js';

export interface RedisCommandsResult {
  jobs: number;
  offeredPerSec: number;
  /** Every command Redis executed, per job (scripts' own commands included), by name. */
  serverCommandsPerJob: number;
  serverByCommand: Record<string, { calls: number; usec: number }>;
  /** What the clients sent, per job, by name (a script once, under its name). */
  requestsPerJob: number;
  /** Round trips per job: a request, or a whole pipeline/MULTI block. */
  roundTripsPerJob: number;
  requestsByName: Record<string, number>;
  /** Redis CPU per job (µs, user + sys) in the same window. */
  redisCpuMicrosPerJob: number;
}

/** The producer ticks every 10 ms, rate/100 jobs per tick (as in the latency section). */
const TICK_MS = 10;

export async function redisCommands(
  services: BenchServices,
  options: { jobs: number; perSec: number },
): Promise<RedisCommandsResult> {
  const server = await startRedisServer();
  const { config } = runConfig(services, 'commands', { REDIS_URL: server.url });
  const stores = createMemoryStores();
  const seeded = await seedUsers(stores);
  const logger = devNullLogger();
  const workerRedis = new Redis(server.url, { maxRetriesPerRequest: null });
  const producerRedis = new Redis(server.url, { maxRetriesPerRequest: null });
  const control = new Redis(server.url);
  const service = startWorkerService({ config, stores, redis: workerRedis, logger, metrics: new WorkerMetrics() });
  const producerSide = openJobSystem({ config, redis: producerRedis, stores, logger, actor: 'producer' });
  try {
    await Promise.all(service.shards.map((s) => s.worker.waitUntilReady()));
    await producerSide.queues.operations.waitUntilReady();
    let settled = 0;
    const allSettled = new Promise<void>((resolve) => {
      service.system.lifecycle.onTransition((t) => {
        if (t.type !== 'completed' && t.type !== 'dead-lettered' && t.type !== 'settled-completed') return;
        settled += 1;
        if (settled % 200 === 0) progress('redis commands per job', `${settled}/${options.jobs}`);
        if (settled >= options.jobs) resolve();
      });
    });
    const producer = new Producer({
      lifecycle: producerSide.lifecycle,
      generator: benchGenerator(config, seeded),
      intervalMs: TICK_MS,
      perTick: Math.max(1, Math.round((options.perSec * TICK_MS) / 1000)),
      maxOperations: options.jobs,
      logger,
    });

    await control.config('RESETSTAT');
    const cpu0 = cpuSeconds(await control.info('cpu'));
    const counting = countRedisRequests();
    await producer.run();
    await allSettled;
    const sent = counting.stop();
    const server1 = commandStats(await control.info('commandstats'));
    const cpu = cpuSeconds(await control.info('cpu')) - cpu0;

    const perJob = (n: number) => round(n / options.jobs, 3);
    const serverTotal = [...server1.values()].reduce((sum, s) => sum + s.calls, 0);
    const byCalls = <T>(entries: [string, T][], calls: (v: T) => number) =>
      entries.sort((a, b) => calls(b[1]) - calls(a[1]));
    return {
      jobs: options.jobs,
      offeredPerSec: options.perSec,
      serverCommandsPerJob: perJob(serverTotal),
      serverByCommand: Object.fromEntries(
        byCalls([...server1], (s) => s.calls).map(([name, s]) => [
          name,
          { calls: perJob(s.calls), usec: perJob(s.usec) },
        ]),
      ),
      requestsPerJob: perJob(sent.requests),
      roundTripsPerJob: perJob(sent.roundTrips),
      requestsByName: Object.fromEntries(byCalls([...sent.byName], (n) => n).map(([name, n]) => [name, perJob(n)])),
      redisCpuMicrosPerJob: Math.round((cpu * 1e6) / options.jobs),
    };
  } finally {
    await service.close();
    await producerSide.close();
    workerRedis.disconnect();
    producerRedis.disconnect();
    control.disconnect();
    await server.stop();
    rmSync(server.dir, { recursive: true, force: true });
  }
}
