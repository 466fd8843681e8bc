// `npm start` and the Redis it is told to use: a configured Redis is never replaced. One that does
// not answer ends the start with one error naming it (no redis-server of its own started); a Redis
// Cluster given by REDIS_CLUSTER_NODES (3 masters + 3 replicas started here, loopback ports
// 7460-7499) runs the whole stack, sharded, to a drained end; so does one behind TLS and a password.

import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { freePortIn, type RedisClusterServer, startRedisCluster } from '../../devtools/local-services.js';
import { testEnv } from '../helpers/stack.js';
import { useStackRuns, withOwnDynalite } from '../helpers/stack-runs.js';
import { makeTestCertificates } from '../helpers/tls.js';

const PORTS: [number, number] = [7460, 7499];
const stacks = useStackRuns('stack-redis');
let cluster: RedisClusterServer | undefined;

afterAll(async () => {
  await cluster?.stop();
  await tlsCluster?.stop();
});

let tlsCluster: RedisClusterServer | undefined;

/**
 * A sharded stack with its own dynalite (not the tests' shared endpoint), run until it has drained
 * 60 operations: its exit code, its output, and its JSON summary line.
 */
async function runDrained(env: Record<string, string>) {
  const { code, output } = await stacks.run(withOwnDynalite(env), [
    ...['--workers', '1', '--json', '--until-drained'],
    ...['--max-operations', '60', '--interval', '200', '--per-tick', '10'],
  ]);
  const last = output.trim().split('\n').at(-1) ?? '';
  // Parsed here, asserted by the caller after the exit code (a failed run has no summary: its last line shows).
  let summary: unknown = last;
  try {
    summary = JSON.parse(last.slice(last.indexOf('{')));
  } catch {}
  return { code, output, summary };
}

describe('npm start with a configured Redis', () => {
  it('fails with one error naming a configured Redis that does not answer, and starts none of its own', async () => {
    const port = await freePortIn(PORTS); // nothing listens there
    const { env } = testEnv({ REDIS_URL: `redis://127.0.0.1:${port}` });

    const { code, output } = await stacks.run(env, ['--workers', '1', '--max-operations', '5', '--until-drained']);

    expect(code, output).toBe(2);
    expect(output).toMatch(new RegExp(`Redis: nothing answers at REDIS_URL=redis://127\\.0\\.0\\.1:${port}`));
    expect(output).toMatch(/unset it to let npm start run a redis-server of its own/);
    expect(output).not.toMatch(/started redis-server/);
  });

  it('runs the stack on the Redis Cluster REDIS_CLUSTER_NODES names, to a drained end', {
    timeout: 150_000,
  }, async () => {
    cluster = await startRedisCluster({ masters: 3, portRange: PORTS });
    // In cluster mode REDIS_URL gives only the scheme: its host (where nothing listens) is not used,
    // and must not make the stack start a redis-server of its own (which it did).
    const unused = await freePortIn(PORTS);
    const { env } = testEnv({
      REDIS_URL: `redis://127.0.0.1:${unused}`,
      REDIS_CLUSTER_NODES: cluster.nodes,
      QUEUE_SHARDS: 3,
      BOARD_PORT: 0,
    });
    const { code, output, summary } = await runDrained(env);

    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/Redis: using cluster 127\.0\.0\.1:\d+/);
    expect(output).not.toMatch(/started redis-server/);
    expect(summary).toMatchObject({ produced: 60 });
  });

  it('runs the stack on a Redis Cluster behind TLS and a password, never showing the password', {
    timeout: 150_000,
  }, async () => {
    const tls = makeTestCertificates(stacks.tempDir('stack-tls'));
    const password = randomBytes(12).toString('hex');
    tlsCluster = await startRedisCluster({ masters: 3, portRange: PORTS, password, tls });
    const { env } = testEnv({
      REDIS_URL: `rediss://:${password}@127.0.0.1:${await freePortIn(PORTS)}`,
      REDIS_TLS_CA_FILE: tls.caFile,
      REDIS_CLUSTER_NODES: tlsCluster.nodes,
      QUEUE_SHARDS: 3,
      BOARD_PORT: 0,
    });
    const { code, output, summary } = await runDrained(env);

    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toMatch(/Redis: using cluster 127\.0\.0\.1:\d+.* \(TLS\)/);
    expect(output).not.toMatch(/started redis-server/);
    expect(output).not.toContain(password);
    expect(summary).toMatchObject({ produced: 60 });
  });
});
