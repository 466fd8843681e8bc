// Redis behind TLS and a password, as managed Redis runs (ElastiCache, MemoryDB): a real
// `redis-server --tls-port` with a throwaway CA and server certificate made here with openssl,
// `requirepass` for the default user and an ACL user. The producer and worker processes, the CLI
// and an in-process BullMQ worker run over it; the passwords never appear in their output or errors.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClients } from '../../shared/dynamo/client.js';
import { ensureTable } from '../../shared/dynamo/table.js';
import { checkLedger } from '../../shared/operator/check.js';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import { type Config, ConfigError, loadConfig } from '../../shared/runtime/config.js';
import { connectRedis, connectRedisFailFast, waitForRedis } from '../../shared/runtime/redis.js';
import { createDynamoStores } from '../../shared/store/index.js';
import { openJobSystem } from '../../shared/wiring.js';
import { newUser, silentLogger, startTestWorker, waitFor } from '../helpers/pipeline.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { freePort } from '../helpers/services.js';
import { testEnv } from '../helpers/stack.js';
import { makeTestCa, makeTestCertificates } from '../helpers/tls.js';

const USER = 'djq';
// Random, so a search of the output for them cannot match anything else.
const USER_PASSWORD = randomBytes(12).toString('hex');
const DEFAULT_PASSWORD = randomBytes(12).toString('hex');

let dir = '';
let port = 0;
let server: ChildProcess | undefined;
let serverOutput = '';
const services: Service[] = [];

/** The tools this test needs: missing ones fail it with what to install, never skip it. */
function requireCommand(command: string, args: string[], install: string): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`${command} is needed for the Redis TLS test and is not on PATH: ${install}`);
  return `${result.stdout}${result.stderr}`;
}

/** A CA, and a server certificate it signed for 127.0.0.1; plus a second CA that signed nothing of ours. */
function makeCertificates() {
  makeTestCertificates(dir);
  makeTestCa(dir, 'some other CA', { key: 'other.key', cert: 'other-ca.crt' });
}

const userUrl = (password = USER_PASSWORD) => `rediss://${USER}:${password}@127.0.0.1:${port}`;

beforeAll(async () => {
  requireCommand('openssl', ['version'], 'apt-get install openssl');
  const version = requireCommand('redis-server', ['--version'], 'apt-get install redis-server');
  dir = mkdtempSync(join(tmpdir(), 'djq-redis-tls-'));
  makeCertificates();
  port = await freePort();
  server = spawn(
    'redis-server',
    [
      ...['--port', '0', '--bind', '127.0.0.1', '--tls-port', String(port)],
      ...['--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key')],
      ...['--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no'],
      ...['--requirepass', DEFAULT_PASSWORD, '--user', USER, 'on', `>${USER_PASSWORD}`, '~*', '&*', '+@all'],
      ...['--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout?.on('data', (d) => {
    serverOutput += String(d);
  });
  server.stderr?.on('data', (d) => {
    serverOutput += String(d);
  });
  const exited = new Promise<never>((_, reject) =>
    server?.once('exit', (code) =>
      reject(
        new Error(`redis-server exited (${code}) at start; does it have TLS (${version.trim()})?\n${serverOutput}`),
      ),
    ),
  );
  const probe = connectRedis({ REDIS_URL: userUrl(), REDIS_TLS_CA_FILE: join(dir, 'ca.crt') });
  probe.on('error', () => undefined);
  try {
    await Promise.race([waitForRedis(probe, userUrl(), 15_000), exited]);
  } finally {
    probe.disconnect();
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
  if (server && server.exitCode === null) {
    const gone = new Promise((resolve) => server?.once('exit', resolve));
    server.kill('SIGTERM');
    await gone;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Rejects after `ms` with `what` and `output` in the message: every wait has a deadline. */
async function within<T>(promise: Promise<T>, ms: number, what: string, output: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms; output:\n${output().slice(-3000)}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The reading side of the test: the ledger checker over the same TLS connection settings. */
async function checkOver(config: Config) {
  const redis = connectRedis(config);
  redis.on('error', () => undefined);
  const dynamo = createDynamoClients(config);
  const stores = createDynamoStores(dynamo, config);
  const system = openJobSystem({ config, redis, stores, logger: silentLogger, actor: 'test' });
  try {
    // Read only once the queue is idle: the checker's reads are not atomic with the workers' writes
    // (an outcome landing between its XLEN and XINFO looks like a trimmed stream).
    await waitFor(
      'the queue to drain',
      async () => {
        const counts = await system.queues.operations.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'prioritized',
          'failed',
        );
        return Object.values(counts).every((n) => n === 0);
      },
      60_000,
    );
    return await checkLedger({ system });
  } finally {
    await system.close();
    redis.disconnect();
    dynamo.close();
  }
}

async function dropTable(config: Config) {
  const dynamo = createDynamoClients(config);
  await dynamo.client.send(new DeleteTableCommand({ TableName: config.DYNAMODB_TABLE_NAME })).catch(() => undefined);
  dynamo.close();
}

describe('Redis over TLS with a password', () => {
  it('runs the producer, a worker and djq check as processes over rediss:// with an ACL user, never printing the password', async () => {
    const { env, config } = testEnv({
      REDIS_URL: userUrl(),
      REDIS_TLS_CA_FILE: join(dir, 'ca.crt'),
      // Every connection error and start-up line, to search them for the password.
      LOG_LEVEL: 'debug',
      MAX_OPERATIONS: 40,
      OPERATION_INTERVAL_MS: 20,
      OPERATIONS_PER_TICK: 5,
      OPERATION_MIX: 'create=3,get=1',
    });
    const worker = startService('worker/main.ts', env);
    services.push(worker);
    const producer = startService('producer/main.ts', env);
    services.push(producer);
    const produced = await within(producer.exited, 60_000, 'producer', producer.output);
    expect(produced.code, producer.output().slice(-3000)).toBe(0);

    const report = await within(checkOver(config), 70_000, 'the ledger check', worker.output);
    expect(report, producer.output().slice(-2000)).toMatchObject({
      enqueued: 40,
      pending: 0,
      lost: 0,
      duplicated: 0,
      projectionMismatches: 0,
    });
    expect(report.completed).toBeGreaterThan(30);

    // The CLI over the same URL and CA (its own fail-fast connection), its report on stdout.
    const cli = startService('cli/djq.ts', env, ['check', '--json']);
    services.push(cli);
    expect((await within(cli.exited, 60_000, 'djq check', cli.output)).code, cli.output()).toBe(0);
    expect(JSON.parse(cli.output())).toMatchObject({ enqueued: 40, lost: 0, duplicated: 0 });
    await dropTable(config);

    await stopService(worker, 'SIGTERM');
    expect((await worker.exited).code, worker.output().slice(-3000)).toBe(0);
    // The services log where they connect, redacted; nothing anywhere holds the password.
    for (const service of [producer, worker]) expect(service.output()).toContain(`${USER}:***@127.0.0.1:${port}`);
    for (const service of [producer, worker, cli]) expect(service.output()).not.toContain(USER_PASSWORD);
  }, 180_000);

  it('runs BullMQ queue, worker and ledger in-process with requirepass (the default user, no username)', async () => {
    const { config } = testEnv({
      REDIS_URL: `rediss://:${DEFAULT_PASSWORD}@127.0.0.1:${port}`,
      REDIS_TLS_CA_FILE: join(dir, 'ca.crt'),
    });
    const redis = connectRedis(config);
    const dynamo = createDynamoClients(config);
    await ensureTable(dynamo.client, config.DYNAMODB_TABLE_NAME);
    const worker = startTestWorker(config, { redis });
    const { stores } = worker;
    const producer = openJobSystem({ config, redis, stores, logger: silentLogger, actor: 'producer' });
    try {
      const user = newUser();
      const jobId = randomUUID();
      // As the producer enqueues: the ledger first, then the job under its idempotency key.
      await producer.lifecycle.enqueue([{ id: jobId, name: 'create-user', data: { user } }]);
      const done = await waitFor(
        'the job completed',
        async () => (await producer.queues.operations.getJob(jobId))?.finishedOn,
      );
      expect(done).toBeGreaterThan(0);
      expect((await stores.users.getUser(user.id))?.email).toBe(user.email);
      // The ledger has the producer's record; DynamoDB the worker's decision.
      expect([...(await producer.ledger.readEnqueued()).keys()]).toEqual([jobId]);
      const decided = new DecidedOutcomes(stores.jobs);
      expect(await waitFor('the outcome decided', async () => (await decided.of([jobId])).get(jobId)?.outcome)).toBe(
        'completed',
      );
    } finally {
      await producer.close();
      await worker.stop(); // the worker service, then the shared connection
      await dynamo.client
        .send(new DeleteTableCommand({ TableName: config.DYNAMODB_TABLE_NAME }))
        .catch(() => undefined);
      dynamo.close();
    }
  }, 60_000);

  /** The error a fail-fast client gives for `url`, after a short wait. */
  async function refusal(target: Pick<Config, 'REDIS_URL' | 'REDIS_TLS_CA_FILE'>): Promise<string> {
    const redis: Redis = connectRedisFailFast(target);
    redis.on('error', () => undefined);
    try {
      await waitForRedis(redis, target.REDIS_URL, 2000);
      return 'connected';
    } catch (error) {
      return (error as Error).message;
    } finally {
      redis.disconnect();
    }
  }

  it('refuses a wrong password, an unknown CA and plain redis://, with errors that name the cause but no password', async () => {
    const ca = join(dir, 'ca.crt');
    const wrong = randomUUID().replaceAll('-', '');
    const badPassword = await refusal({ REDIS_URL: userUrl(wrong), REDIS_TLS_CA_FILE: ca });
    expect(badPassword).toMatch(/WRONGPASS/);
    expect(badPassword).toContain(`rediss://${USER}:***@127.0.0.1:${port}`);
    expect(badPassword).not.toContain(wrong);

    for (const untrusted of [join(dir, 'other-ca.crt'), undefined]) {
      const message = await refusal({ REDIS_URL: userUrl(), REDIS_TLS_CA_FILE: untrusted });
      expect(message).toMatch(/certificate/i);
      expect(message).not.toContain(USER_PASSWORD);
    }

    const plain = await refusal({
      REDIS_URL: `redis://${USER}:${USER_PASSWORD}@127.0.0.1:${port}`,
      REDIS_TLS_CA_FILE: undefined,
    });
    expect(plain).not.toBe('connected');
    expect(plain).not.toContain(USER_PASSWORD);
  }, 30_000);

  it('names REDIS_TLS_CA_FILE when the CA file cannot be read, and wants rediss:// with it', () => {
    const missing = join(dir, 'no-such-ca.pem');
    expect(() => connectRedis({ REDIS_URL: userUrl(), REDIS_TLS_CA_FILE: missing })).toThrow(ConfigError);
    expect(() => connectRedis({ REDIS_URL: userUrl(), REDIS_TLS_CA_FILE: missing })).toThrow(
      `REDIS_TLS_CA_FILE=${JSON.stringify(missing)}: cannot read it (ENOENT)`,
    );
    expect(() =>
      loadConfig({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_TLS_CA_FILE: join(dir, 'ca.crt') }),
    ).toThrow(/REDIS_TLS_CA_FILE is set but REDIS_URL=.* is not rediss:\/\//);
  });
});
