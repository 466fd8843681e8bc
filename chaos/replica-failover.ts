// A failover that drops the last writes: the stack's redis-server gets a replica, the replica's
// link is stalled (it keeps the connection but receives nothing more: a replica that lags), the
// primary takes a burst of writes, is killed -9, and the replica is promoted (REPLICAOF NO ONE)
// and put behind the stack's Redis endpoint. What the primary accepted after the stall is gone.
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePortIn, startRedisServer } from '../devtools/local-services.js';
import { track } from './processes.js';
import type { ChaosStack } from './stack.js';
import { StallingProxy } from './stalling-proxy.js';

export interface ReplicaFailover {
  /** Replication bytes the primary had written that the replica never got, at the kill. */
  lagBytes: number;
  /** The promoted replica's port. */
  promotedPort: number;
  /** From the kill until the promoted replica was behind the endpoint. */
  failoverMs: number;
}

/** `field:value` of an INFO section. */
function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Waits until the replica's link is up and it has every byte the primary had written when asked. */
async function waitInSync(primary: Redis, replica: Redis, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const wanted = Number(infoField(await primary.info('replication'), 'master_repl_offset'));
  for (;;) {
    const info = await replica.info('replication');
    const synced = infoField(info, 'master_link_status') === 'up' && infoField(info, 'master_sync_in_progress') === '0';
    if (synced && Number(infoField(info, 'slave_repl_offset')) >= wanted) return;
    if (Date.now() > deadline) throw new Error(`the replica did not catch up with the primary in ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Runs the failover on a stack started with `redisEndpoint`; `burst` runs while the replica lags
 * (the primary still takes writes). The replica's port comes from `portRange`.
 */
export async function failOverToLaggingReplica(
  stack: ChaosStack,
  burst: () => Promise<void>,
  portRange: [number, number],
): Promise<ReplicaFailover> {
  const primary = stack.redisServer;
  if (!primary || !stack.redisEndpoint)
    throw new Error('a replica failover needs a single redis-server behind an endpoint');
  const link = await StallingProxy.start(`http://127.0.0.1:${primary.port}`);
  const replica = await startRedisServer({
    port: await freePortIn(portRange),
    dir: mkdtempSync(join(stack.dir, 'replica-')),
    extraArgs: ['--replicaof', '127.0.0.1', new URL(link.endpoint).port],
  });
  track(replica.process);
  const toPrimary = new Redis(primary.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  const toReplica = new Redis(replica.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  for (const client of [toPrimary, toReplica]) client.on('error', () => undefined);
  let promoted = false;
  try {
    await waitInSync(toPrimary, toReplica, 30_000);
    link.stall();
    await burst();
    const written = Number(infoField(await toPrimary.info('replication'), 'master_repl_offset'));
    const received = Number(infoField(await toReplica.info('replication'), 'slave_repl_offset'));
    const killedAt = Date.now();
    await primary.stop('SIGKILL');
    await toReplica.call('REPLICAOF', 'NO', 'ONE');
    stack.adoptRedisServer(replica);
    promoted = true;
    return { lagBytes: written - received, promotedPort: replica.port, failoverMs: Date.now() - killedAt };
  } finally {
    toPrimary.disconnect();
    toReplica.disconnect();
    await link.close();
    if (!promoted) await replica.stop('SIGKILL');
  }
}
