// Shard placement on a real Redis Cluster (3 masters + 3 replicas started here, on loopback ports
// 7400-7429): the tags keys.ts picks put 3 shards on 3 distinct masters, as the servers' own
// CLUSTER KEYSLOT and CLUSTER SHARDS say, and `djq stats` shows each shard's master; with 4 shards
// on 3 masters two must share one, and a worker says so in its log, /readyz and /metrics.
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type RedisClusterServer, startRedisCluster } from '../../devtools/local-services.js';
import { createDynamoClients, withoutFaults } from '../../shared/dynamo/client.js';
import { ensureTable } from '../../shared/dynamo/table.js';
import { allShardKeys } from '../../shared/lifecycle/keys.js';
import { readPlacement } from '../../shared/runtime/cluster-placement.js';
import { connectRedis, waitForRedis } from '../../shared/runtime/redis.js';
import { waitFor } from '../helpers/pipeline.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { testEnv } from '../helpers/stack.js';

/** The loopback ports this file's Redis nodes may use: each test file that starts nodes has a range of its own (files run in parallel; a shared range let two pick the same port). */
const PORTS: [number, number] = [7400, 7429];

let cluster: RedisClusterServer | undefined;
let redis: Cluster | undefined;
const services: Service[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, portRange: PORTS });
  redis = connectRedis({
    REDIS_URL: 'redis://127.0.0.1',
    REDIS_CLUSTER_NODES: cluster.nodes.split(',').map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })),
  }) as Cluster;
  // Commands sent before the client has read the slot map fail with "Connection is closed" (seen
  // once in three full runs): the tests start once it is ready.
  await waitForRedis(redis, 'redis://127.0.0.1', 30_000);
}, 90_000);

afterAll(async () => {
  await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
  redis?.disconnect();
  await cluster?.stop();
});

async function prepareTable(env: ReturnType<typeof testEnv>) {
  const dynamo = createDynamoClients(withoutFaults(env.config));
  await ensureTable(dynamo.client, env.config.DYNAMODB_TABLE_NAME);
  dynamo.close();
}

describe('shard placement on a 3-master cluster', () => {
  it('puts 3 shards on 3 distinct masters, by the servers own slot function; djq stats shows them', {
    timeout: 90_000,
  }, async () => {
    const env = testEnv({ REDIS_CLUSTER_NODES: cluster?.nodes ?? '', QUEUE_SHARDS: 3, QUEUE_NAME: 'dynamo-ops' });
    const keys = allShardKeys(env.config);
    for (const k of keys) expect(await redis?.cluster('KEYSLOT', k.ledgerOutcomes)).toBe(k.slot);

    const placement = await readPlacement(redis as Cluster, keys);
    const masters = placement?.shards.map((s) => s.master);
    expect(masters?.every(Boolean)).toBe(true);
    expect(new Set(masters).size).toBe(3);
    expect(new Set(await cluster?.masterPorts())).toEqual(new Set(masters?.map((m) => Number(m?.split(':')[1]))));
    expect(placement?.sharedMasters).toEqual([]);
    // The slot map the test harness reads (CLUSTER NODES) agrees with CLUSTER SHARDS.
    for (const s of placement?.shards ?? []) expect(`127.0.0.1:${await cluster?.masterOf(s.slot)}`).toBe(s.master);

    await prepareTable(env);
    const cli = startService('cli/djq.ts', env.env, ['stats', '--json']);
    services.push(cli);
    expect((await cli.exited).code, cli.output()).toBe(0);
    const out = cli.output();
    const stats = JSON.parse(out.slice(out.indexOf('{'))) as {
      shards: { master?: string }[];
      placement: { shards: { master: string }[]; warning?: string };
    };
    expect(stats.shards.map((s) => s.master)).toEqual(masters);
    expect(stats.placement.warning).toBeUndefined();
  });

  it('warns in the log, /readyz and /metrics when two shards share a master (4 shards on 3)', {
    timeout: 90_000,
  }, async () => {
    const metricsPort = await freePort();
    const env = testEnv({
      REDIS_CLUSTER_NODES: cluster?.nodes ?? '',
      QUEUE_SHARDS: 4,
      METRICS_PORT: metricsPort,
      LOG_LEVEL: 'info',
    });
    await prepareTable(env);
    const worker = startService('worker/main.ts', env.env);
    services.push(worker);

    let readyz: { detail?: { placement?: { warning?: string; shards: { master: string }[] } } } = {};
    await waitFor(
      'the worker /readyz names the shared master',
      async () => {
        const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
        if (!res) return false;
        readyz = (await res.json()) as typeof readyz;
        return readyz.detail?.placement?.warning !== undefined;
      },
      60_000,
    );
    expect(readyz.detail?.placement?.warning).toMatch(
      /shards \d+, \d+ on 127\.0\.0\.1:\d+: these shards share one master/,
    );
    expect(new Set(readyz.detail?.placement?.shards.map((s) => s.master)).size).toBe(3);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^djq_shards_sharing_master 2$/m);
    expect(metrics.match(/^djq_shard_master_info\{/gm)).toHaveLength(4);
    expect(worker.output()).toMatch(/share one master/);
  });
});
