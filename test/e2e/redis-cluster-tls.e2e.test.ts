// A Redis Cluster behind TLS and a password (3 masters + 3 replicas started here on loopback ports
// 7430-7459, a throwaway CA; the nodes' bus and replication over TLS too), as managed clusters run:
// the producer and a worker process reach it through its TLS ports only (rediss:// with
// REDIS_TLS_CA_FILE, REDIS_CLUSTER_NODES), the queue in 3 shards on 3 distinct masters; `djq check`
// finds nothing lost or twice and the password appears in no output.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisClusterServer, startRedisCluster } from '../../devtools/local-services.js';
import { createDynamoClients, withoutFaults } from '../../shared/dynamo/client.js';
import { ensureTable } from '../../shared/dynamo/table.js';
import type { CheckReport } from '../../shared/operator/check.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { testEnv } from '../helpers/stack.js';
import { makeTestCertificates } from '../helpers/tls.js';

const JOBS = 200;
const PASSWORD = randomBytes(12).toString('hex');

let certDir = '';
let cluster: RedisClusterServer | undefined;
const services: Service[] = [];

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), 'djq-cluster-tls-'));
  const tls = makeTestCertificates(certDir);
  cluster = await startRedisCluster({ masters: 3, portRange: [7430, 7459], password: PASSWORD, tls });
}, 90_000);

afterAll(async () => {
  await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
  await cluster?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

/** Runs djq with the test's environment and parses its --json output. */
async function djq<T>(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number | null; data: T; output: string }> {
  const cli = startService('cli/djq.ts', env, [...args, '--json']);
  services.push(cli);
  const { code } = await cli.exited;
  const output = cli.output();
  return { code, data: JSON.parse(output.slice(output.indexOf('{'))) as T, output };
}

describe('Redis Cluster with TLS and a password, QUEUE_SHARDS=3', () => {
  it('runs the pipeline over TLS: lost 0, duplicated 0, 3 shards on 3 masters, no password in any output', {
    timeout: 150_000,
  }, async () => {
    const { env, config } = testEnv({
      // The scheme and the password; the host is not used in cluster mode.
      REDIS_URL: `rediss://:${PASSWORD}@127.0.0.1:6380`,
      REDIS_TLS_CA_FILE: join(certDir, 'ca.crt'),
      REDIS_CLUSTER_NODES: cluster?.nodes ?? '',
      QUEUE_SHARDS: 3,
      MAX_OPERATIONS: JOBS,
      OPERATION_INTERVAL_MS: 20,
      OPERATIONS_PER_TICK: 10,
    });
    const dynamo = createDynamoClients(withoutFaults(config));
    await ensureTable(dynamo.client, config.DYNAMODB_TABLE_NAME);
    dynamo.close();

    const worker = startService('worker/main.ts', { ...env, WORKER_ID: 'w-tls' });
    const producer = startService('producer/main.ts', env);
    services.push(worker, producer);
    const { code } = await producer.exited;
    expect(code, producer.output().slice(-2000)).toBe(0);

    let check: Awaited<ReturnType<typeof djq<CheckReport>>> | undefined;
    const deadline = Date.now() + 90_000;
    for (;;) {
      check = await djq<CheckReport>(env, 'check');
      if (check.data.pending === 0 || Date.now() > deadline) break;
    }
    expect(check.data).toMatchObject({ enqueued: JOBS, pending: 0, lost: 0, duplicated: 0, projectionMismatches: 0 });
    expect(check.code).toBe(0);

    const stats = await djq<{ placement: { shards: { master: string }[]; warning?: string } }>(env, 'stats');
    expect(new Set(stats.data.placement.shards.map((s) => s.master)).size).toBe(3);
    expect(stats.data.placement.warning).toBeUndefined();

    for (const output of [worker.output(), producer.output(), check.output, stats.output]) {
      expect(output).not.toContain(PASSWORD);
    }
  });
});
