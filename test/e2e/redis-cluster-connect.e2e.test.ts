// A cluster connection's connect() on a cluster that stays failed (a master and its replica both
// gone: cluster_state:fail until an operator acts). ioredis drops every attempt whose ready check
// sees the failure and reconnects, every 0.2-2 s, each through connect(): the connects must neither
// pile up listeners (ten pending ones with anyone else's 'ready' listener went past Node's 10, a
// MaxListenersExceededWarning) nor outlive a disconnect() by the caller (they waited out the 10 s
// deadline, then blamed the cluster). Its own port range, 7630-7659.
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisClusterServer, startRedisCluster } from '../../devtools/local-services.js';
import { parseClusterNodes } from '../../shared/runtime/config.js';
import { connectRedis } from '../../shared/runtime/redis.js';

let cluster: RedisClusterServer | undefined;
const cli = (port: number, ...args: string[]) =>
  execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });

beforeAll(async () => {
  cluster = await startRedisCluster({ portRange: [7630, 7659], nodeTimeoutMs: 1000 });
  const masterPort = await cluster.masterOf(0);
  const nodes = cli(masterPort ?? 0, 'CLUSTER', 'NODES')
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  const masterId = nodes.find((n) => n[2]?.includes('myself'))?.[0];
  const replicaPort = Number(/:(\d+)@/.exec(nodes.find((n) => n[3] === masterId)?.[1] ?? '')?.[1]);
  const gone = cluster.servers.filter((s) => s.port === masterPort || s.port === replicaPort);
  expect(gone).toHaveLength(2);
  await Promise.all(gone.map((s) => s.stop('SIGKILL')));
  const live = cluster.servers.find((s) => !gone.includes(s))?.port ?? 0;
  for (let i = 0; i < 100 && !/cluster_state:fail/.test(cli(live, 'CLUSTER', 'INFO')); i++) await sleep(200);
  expect(cli(live, 'CLUSTER', 'INFO')).toMatch(/cluster_state:fail/);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

const open = (): Cluster => {
  if (!cluster) throw new Error('no cluster');
  const target = { REDIS_URL: 'redis://127.0.0.1', REDIS_CLUSTER_NODES: parseClusterNodes(cluster.nodes) };
  const c = connectRedis({ ...target, REDIS_TLS_CA_FILE: undefined }) as Cluster;
  c.on('error', () => undefined);
  return c;
};

describe('connect() of a cluster connection on a failed cluster', () => {
  it('keeps one ready listener however many attempts are dropped (no MaxListenersExceededWarning)', {
    timeout: 30_000,
  }, async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    const c = open();
    // Someone else waiting for the cluster too (waitForRedis at start-up, BullMQ).
    c.on('ready', () => undefined);
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, c.listenerCount('ready'));
    }, 10);
    try {
      await sleep(12_000);
    } finally {
      clearInterval(sampler);
      c.disconnect();
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
    expect(most).toBeLessThanOrEqual(2);
  });

  it.each(['disconnect', 'quit'] as const)(
    'fails a connect() still pending as soon as the caller calls %s()',
    {
      timeout: 30_000,
    },
    async (how) => {
      const c = open();
      await sleep(1500);
      // A connect() of the caller's, between ioredis's attempts (the deadline would end it at 10 s).
      const settled = (async () => {
        for (;;) {
          try {
            await c.connect();
            return 'ready';
          } catch (error) {
            if (!/already connecting/.test((error as Error).message)) return (error as Error).message;
            await sleep(5);
          }
        }
      })();
      await sleep(1500);
      const at = Date.now();
      if (how === 'disconnect') c.disconnect();
      else void c.quit().catch(() => undefined);
      const outcome = await Promise.race([settled, sleep(8000).then(() => `still pending 8 s after ${how}()`)]);
      expect(outcome).toBe('Connection is closed.');
      expect(Date.now() - at).toBeLessThan(1000);
    },
  );
});
