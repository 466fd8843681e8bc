// A BullMQ worker on a Redis Cluster resumes after the cluster was down (issue 21). While a master
// and its replica are both gone the cluster says cluster_state:fail; the worker's blocking fetch
// (BZPOPMIN, answered CLUSTERDOWN and retried) outlives BullMQ's watchdog, which then reconnects its
// blocking connection while the cluster is still failing. ioredis's ready check sees the failure,
// reconnects with a new attempt and leaves the first connect() promise pending forever: BullMQ
// awaited that promise, so the fetch loop stopped for good (the worker alive, nothing consumed).
// Its own port range, 7600-7629, so a parallel run's Redis servers are never hit.
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisClusterServer, startRedisCluster } from '../../devtools/local-services.js';
import { keySlot } from '../../shared/lifecycle/key-slot.js';
import { parseClusterNodes } from '../../shared/runtime/config.js';
import { connectRedis } from '../../shared/runtime/redis.js';
import { waitFor } from '../helpers/pipeline.js';

const PREFIX = '{djq-resume}';
const QUEUE = 'ops';

let cluster: RedisClusterServer | undefined;
let redis: Cluster | undefined;
let queue: Queue | undefined;
let worker: Worker | undefined;

beforeAll(async () => {
  cluster = await startRedisCluster({ portRange: [7600, 7629], nodeTimeoutMs: 1000 });
}, 90_000);

afterAll(async () => {
  // A worker whose fetch loop is parked never finishes a graceful close: force it, within a deadline.
  await Promise.race([worker?.close(true), sleep(5000)]);
  await queue?.close().catch(() => undefined);
  redis?.disconnect();
  await cluster?.stop();
});

const cli = (port: number, ...args: string[]) =>
  execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });

/** `CLUSTER NODES` of a live node: each node's id, port, flags and master's id. */
function clusterNodes(livePort: number) {
  return cli(livePort, 'CLUSTER', 'NODES')
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
    .map(([id, address, flags, master]) => ({
      id,
      port: Number(/:(\d+)@/.exec(address ?? '')?.[1]),
      flags: (flags ?? '').split(','),
      master,
    }));
}

describe('a worker on a Redis Cluster that was down', () => {
  it('consumes again once the cluster is back, after its blocking connection reconnected during the outage', {
    timeout: 120_000,
  }, async () => {
    if (!cluster) throw new Error('no cluster');
    const target = { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: parseClusterNodes(cluster.nodes) };
    redis = connectRedis(target) as Cluster;
    queue = new Queue(QUEUE, { connection: redis, prefix: PREFIX });
    const done: string[] = [];
    // drainDelay 1 s: BullMQ's watchdog on an unanswered BZPOPMIN then fires after 2 s (5 s + 1 s by default).
    worker = new Worker(QUEUE, async (job) => void done.push(job.name), {
      connection: redis,
      prefix: PREFIX,
      drainDelay: 1,
    });
    worker.on('error', () => undefined);
    await queue.add('before', {});
    await waitFor('the job before the outage', async () => done.includes('before'));

    // Take down a master that does not serve the queue, and its replica: the cluster fails (no full coverage).
    const queueMaster = await cluster.masterOf(keySlot(`${PREFIX}:${QUEUE}:wait`));
    const nodes = clusterNodes(queueMaster ?? 0);
    const other = nodes.find((n) => n.flags.includes('master') && n.port !== queueMaster);
    const otherReplica = nodes.find((n) => n.master === other?.id);
    if (!other || !otherReplica) throw new Error('no second master with a replica');
    for (const port of [other.port, otherReplica.port])
      cluster.servers.find((s) => s.port === port)?.process.kill('SIGKILL');
    const live = cluster.servers.filter((s) => ![other.port, otherReplica.port].includes(s.port));
    await waitFor('cluster_state:fail', async () => cli(live[0]?.port ?? 0, 'CLUSTER', 'INFO').includes('state:fail'));
    // Long enough for several watchdog rounds, each a reconnect whose ready check finds the cluster failing.
    await sleep(8000);

    // The cluster is back for the queue's slots: the surviving masters serve them again.
    for (const server of live) cli(server.port, 'CONFIG', 'SET', 'cluster-require-full-coverage', 'no');
    await waitFor('cluster_state:ok', async () =>
      live.every((s) => cli(s.port, 'CLUSTER', 'INFO').includes('cluster_state:ok')),
    );
    await queue.add('after', {});

    // Consumed within a few watchdog rounds, not never.
    await waitFor('the job after the outage', async () => done.includes('after'), 20_000);
    expect(done).toEqual(['before', 'after']);
  });
});
