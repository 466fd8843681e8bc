// Which server holds a shard's data (shared/lifecycle/redis-server.lua), against failovers of two
// redis-servers of this test's own, driven by REPLICAOF as Sentinel drives them. A server that
// was the master, became a replica of the one promoted (taking its data, without what it had
// dropped), and is promoted again keeps its run_id: the record must still say it changed.
import { rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../../devtools/local-services.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { redisServerState } from '../../shared/lifecycle/redis-server.js';
import { waitFor } from '../helpers/pipeline.js';
import { testEnv } from '../helpers/stack.js';

const servers: RedisServer[] = [];
const clients: Redis[] = [];
afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const s of servers) {
    await s.stop('SIGKILL');
    rmSync(s.dir, { recursive: true, force: true });
  }
});

const open = async () => {
  const server = await startRedisServer({ extraArgs: ['--appendonly', 'no'] });
  servers.push(server);
  const client = new Redis(server.url, { maxRetriesPerRequest: null });
  clients.push(client);
  return { server, client };
};

/** `replica` follows `master` until its link is up (it has taken the master's data). */
async function follow(replica: Redis, master: RedisServer) {
  await replica.call('REPLICAOF', '127.0.0.1', String(master.port));
  await waitFor('the replica in sync', async () => /master_link_status:up/.test(await replica.info('replication')));
}

describe("a shard's Redis server", () => {
  it('is another one after a failover and a failover back, though the first keeps its run_id', {
    timeout: 60_000,
  }, async () => {
    const keys = queueKeys(testEnv().config, 0);
    const a = await open();
    const b = await open();
    await follow(b.client, a.server);
    await a.client.set(keys.epoch, 'the-epoch');
    const before = await redisServerState(a.client, keys);
    await redisServerState(a.client, keys, before.runId);
    expect((await redisServerState(a.client, keys)).reconciled).toBe(before.runId);
    // b has the epoch and the record before it is promoted (replication is asynchronous: WAIT for it).
    expect(await a.client.call('WAIT', '1', '10000')).toBe(1);

    // Failover to b (a partitioned, not restarted), then a follows b, then back to a: no watch
    // looked in between (a minute's back-off after an unfinished recovery, no lease holder).
    await b.client.call('REPLICAOF', 'NO', 'ONE');
    await follow(a.client, b.server);
    await a.client.call('REPLICAOF', 'NO', 'ONE');

    const after = await redisServerState(a.client, keys);
    expect(after.reconciled).toBe(before.runId);
    expect(after.runId).not.toBe(after.reconciled);
  });
});
