// Finds the services the tests need, never skipping: REDIS_URL (or 127.0.0.1:6379) if it answers,
// else a redis-server from PATH on a free port, else testcontainers' Redis when Docker runs; and an
// out-of-process dynalite on a free port. A missing service fails the run with a clear message.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A redis-server of the test's own, on a free loopback port, with AOF so it can be restarted with its data. */
export async function startRedisServer(options: { port?: number; dir?: string } = {}): Promise<RedisServer> {
  if (!hasCommand('redis-server')) {
    throw new Error(
      'No Redis answers at REDIS_URL and no redis-server is on PATH: install one (apt-get install redis-server) or set REDIS_URL.',
    );
  }
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'djq-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--dir',
      dir,
      '--maxmemory-policy',
      'noeviction',
    ],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await redisAnswers(url, 200)); i++) await sleep(50);
  if (!(await redisAnswers(url))) throw new Error(`redis-server on port ${port} did not start`);
  return {
    url,
    port,
    dir,
    process: child,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill(signal);
      await exited;
    },
  };
}

export interface TestRedis {
  url: string;
  stop(): Promise<void>;
}

export async function findRedis(): Promise<TestRedis> {
  const candidate = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (await redisAnswers(candidate)) return { url: candidate, stop: async () => undefined };
  if (hasCommand('redis-server')) {
    const server = await startRedisServer();
    return {
      url: server.url,
      stop: async () => {
        await server.stop();
        rmSync(server.dir, { recursive: true, force: true });
      },
    };
  }
  try {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      stop: async () => {
        await container.stop();
      },
    };
  } catch (error) {
    throw new Error(
      `No Redis for the tests: nothing answers at ${candidate}, no redis-server on PATH, and testcontainers failed (${(error as Error).message}). Install redis-server or set REDIS_URL.`,
    );
  }
}

export interface DynaliteServer {
  endpoint: string;
  stop(): Promise<void>;
}

/** dynalite in a child process of its own (its own core, like a real service). */
export async function startDynalite(options: { path?: string } = {}): Promise<DynaliteServer> {
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--createTableMs',
    '0',
    '--deleteTableMs',
    '0',
    '--updateTableMs',
    '0',
  ];
  if (options.path) args.push('--path', options.path);
  const bin = join(process.cwd(), 'node_modules', 'dynalite', 'cli.js');
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`dynalite exited: ${stderr}`);
    try {
      const res = await fetch(endpoint, { method: 'POST' });
      if (res.status > 0) break;
    } catch {
      await sleep(50);
    }
  }
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
