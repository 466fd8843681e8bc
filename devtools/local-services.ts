// Local services for `npm start`, the tests, chaos and bench: a redis-server from PATH on a free
// port, and dynalite (the open-source DynamoDB) in a child process of its own.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';

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

/**
 * A port free now within [from, to] (tried from a random point of the range, so two callers seldom
 * race for the same one): for test clusters that must stay in a range of ports of their own.
 */
export async function freePortIn([from, to]: [number, number], host = '127.0.0.1'): Promise<number> {
  const size = to - from + 1;
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = from + ((start + i) % size);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, host, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}-${to}`);
}

export async function redisAnswers(url: string, timeoutMs = 1500, options: RedisOptions = {}): Promise<boolean> {
  const redis = new Redis(url, {
    ...options,
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

/** The process id of the Redis server answering at `url` (INFO server), or undefined if none answers. */
async function redisProcessId(url: string): Promise<number | undefined> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 200,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pid = /^process_id:(\d+)/m.exec(await redis.info('server'))?.[1];
    return pid === undefined ? undefined : Number(pid);
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface LocalProcess {
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** How long a local service gets to stop on SIGTERM before it is killed. */
const SERVICE_STOP_MS = 5000;

function stopper(child: ChildProcess) {
  return async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    // dynalite's SIGTERM waits for its server to close, which a client's keep-alive socket can hold.
    const timer = setTimeout(() => child.kill('SIGKILL'), SERVICE_STOP_MS);
    await exited;
    clearTimeout(timer);
  };
}

export interface RedisServer extends LocalProcess {
  url: string;
  port: number;
  dir: string;
}

export const REDIS_INSTALL_HINT =
  'No Redis answers and no redis-server is on PATH. Install one (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL.';

/** Hands out free ports (in `range`, if given), never the same one twice: a group of servers' own ports. */
function distinctPorts(range?: [number, number]): () => Promise<number> {
  const taken = new Set<number>();
  return async () => {
    for (;;) {
      const port = range ? await freePortIn(range) : await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
}

/**
 * A redis-server of our own on a loopback port, configured as BullMQ needs (noeviction) and with
 * AOF, so it can be stopped and started again on the same dir with its data.
 */
export async function startRedisServer(
  options: { port?: number; dir?: string; fsyncAlways?: boolean; extraArgs?: string[]; password?: string } = {},
): Promise<RedisServer> {
  if (!hasCommand('redis-server')) throw new Error(REDIS_INSTALL_HINT);
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'djq-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir];
  args.push('--appendonly', 'yes', '--appendfsync', options.fsyncAlways ? 'always' : 'everysec');
  args.push('--maxmemory-policy', 'noeviction');
  if (options.password) args.push('--requirepass', options.password, '--masterauth', options.password);
  // Later arguments win in redis-server, so these can override the ones above.
  args.push(...(options.extraArgs ?? []));
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const url = `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}`;
  // Answering is not enough: another server may hold the port (ours then exits, unable to bind).
  for (let i = 0; i < 200 && (await redisProcessId(url)) !== child.pid; i++) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    await sleep(50);
  }
  if ((await redisProcessId(url)) !== child.pid) {
    const exited = child.exitCode !== null || child.signalCode !== null;
    if (!exited) await stopper(child)('SIGKILL');
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    throw new Error(
      (await redisAnswers(url))
        ? `redis-server could not start on port ${port}: another server already answers there`
        : `redis-server on port ${port} did not start${exited ? ` (it exited with ${child.exitCode ?? child.signalCode})` : ''}`,
    );
  }
  return { url, port, dir, process: child, stop: stopper(child) };
}

/** A redis-server of our own (startRedisServer's defaults) whose stop() also removes its data directory. */
export async function startThrowawayRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = await startRedisServer();
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
      rmSync(server.dir, { recursive: true, force: true });
    },
  };
}

export interface DynaliteServer extends LocalProcess {
  endpoint: string;
}

/**
 * dynalite in its own process (its own core, like a real service); in memory unless given a path.
 * The process has an IPC channel to us and exits when it closes, so it never outlives its parent.
 */
export async function startDynalite(options: { path?: string; port?: number } = {}): Promise<DynaliteServer> {
  const port = options.port ?? (await freePort());
  const dynalitePath = createRequire(import.meta.url).resolve('dynalite');
  const dynaliteOptions = {
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path ? { path: options.path } : {}),
  };
  const script = [
    `const server = require(${JSON.stringify(dynalitePath)})(${JSON.stringify(dynaliteOptions)});`,
    `server.listen(${port}, '127.0.0.1', () => process.send && process.send('ready'));`,
    "server.on('error', (e) => { console.error(e.message); process.exit(1); });",
    "process.on('disconnect', () => process.exit(0));",
    "process.on('SIGTERM', () => server.close(() => process.exit(0)));",
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=commonjs', '-e', script], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`dynalite exited (${code}): ${stderr.trim()}`)));
  });
  // Keep the channel open, but don't let it hold our event loop.
  child.channel?.unref();
  return { endpoint: `http://127.0.0.1:${port}`, process: child, stop: stopper(child) };
}

/** A port that is free now: the wanted one if nothing listens there, else any free one. */
export async function portOr(wanted: number, host = '127.0.0.1'): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(wanted, host, () => server.close(() => resolve(true)));
  });
  return free ? wanted : freePort();
}

export interface ClusterNodeProcess extends LocalProcess {
  port: number;
  dir: string;
}

export interface RedisClusterServer {
  /** host:port,… of every node: a REDIS_CLUSTER_NODES value. */
  nodes: string;
  servers: ClusterNodeProcess[];
  /** The nodes serving slots now, by port (after a failover, promoted replicas included). */
  masterPorts(): Promise<number[]>;
  /** The port of the master serving `slot` now, as a live node sees it. */
  masterOf(slot: number): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** `redis-cli -p PORT …` output, or a clear error (with a password: authenticated). */
function redisCliAs(password: string | undefined) {
  const auth = password ? ['--no-auth-warning', '-a', password] : [];
  return (port: number, ...args: string[]): string =>
    execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...auth, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
}

/**
 * A real Redis Cluster on loopback: `masters` masters with one replica each (`redis-server
 * --cluster-enabled yes`, joined by `redis-cli --cluster create`), each node in a temp dir of its
 * own, on free ports. Resolves once every node says cluster_state:ok and every master has its
 * replica in sync. A small node timeout makes a failover quick (a replica is promoted ~1-2 s after
 * its master dies). On any failure everything started is stopped before the error is thrown.
 */
export async function startRedisCluster(
  options: {
    masters?: number;
    nodeTimeoutMs?: number;
    dir?: string;
    timeoutMs?: number;
    /** Ports for the nodes (each node's bus port is its port + 10000). @default any free port */
    portRange?: [number, number];
    /** requirepass (and masterauth) on every node. */
    password?: string;
    /**
     * TLS beside the plain ports (which stay, for this harness's redis-cli): every node also
     * listens with TLS, the bus and replication use it, and `nodes` lists the TLS ports.
     */
    tls?: { certFile: string; keyFile: string; caFile: string };
  } = {},
): Promise<RedisClusterServer> {
  if (!hasCommand('redis-server') || !hasCommand('redis-cli')) throw new Error(REDIS_INSTALL_HINT);
  const masters = options.masters ?? 3;
  const root = options.dir ?? mkdtempSync(join(tmpdir(), 'djq-redis-cluster-'));
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const servers: (ClusterNodeProcess & { tlsPort?: number })[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    if (!options.dir) rmSync(root, { recursive: true, force: true });
  };
  const cli = redisCliAs(options.password);
  const { tls, password } = options;
  try {
    const pick = distinctPorts(options.portRange);
    for (let i = 0; i < masters * 2; i++) {
      const port = await pick();
      const tlsPort = tls ? await pick() : undefined;
      const dir = mkdtempSync(join(root, `node-${port}-`));
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
          ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')],
          ...['--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1000)],
          ...['--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'],
          ...(password ? ['--requirepass', password, '--masterauth', password] : []),
          ...(tls
            ? [
                ...['--tls-port', String(tlsPort), '--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile],
                ...['--tls-ca-cert-file', tls.caFile, '--tls-auth-clients', 'no'],
                ...['--tls-cluster', 'yes', '--tls-replication', 'yes'],
              ]
            : []),
        ],
        { stdio: 'ignore' },
      );
      servers.push({ port, ...(tlsPort ? { tlsPort } : {}), dir, process: child, stop: stopper(child) });
    }
    for (const server of servers) {
      const url = `redis://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${server.port}`;
      while (!(await redisAnswers(url, 200))) {
        if (server.process.exitCode !== null) throw new Error(`cluster node on port ${server.port} exited`);
        if (Date.now() > deadline) throw new Error(`cluster node on port ${server.port} did not start`);
        await sleep(50);
      }
    }
    const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
    // redis-cli warns that masters and replicas share a host: on loopback that is the point.
    execFileSync(
      'redis-cli',
      [
        ...(password ? ['--no-auth-warning', '-a', password] : []),
        ...['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'],
      ],
      { stdio: 'ignore' },
    );
    for (;;) {
      const ready = servers.every((s) => {
        const info = cli(s.port, 'CLUSTER', 'INFO');
        const replication = cli(s.port, 'INFO', 'replication');
        const role = /role:(\w+)/.exec(replication)?.[1];
        const synced =
          role === 'master' ? /connected_slaves:1/.test(replication) : /master_link_status:up/.test(replication);
        return info.includes('cluster_state:ok') && synced;
      });
      if (ready) break;
      if (Date.now() > deadline) throw new Error('the Redis Cluster did not reach cluster_state:ok in time');
      await sleep(200);
    }
    /** Masters serving slots, as a live node sees them: port and slot ranges. */
    const servingMasters = () => {
      const live = servers.find((s) => s.process.exitCode === null && s.process.signalCode === null);
      if (!live) return [];
      // <id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges…>
      return cli(live.port, 'CLUSTER', 'NODES')
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .filter((parts) => {
          const flags = (parts[2] ?? '').split(',');
          return flags.includes('master') && !flags.some((f) => f.startsWith('fail')) && parts.length > 8;
        })
        .map((parts) => ({
          port: Number(/:(\d+)@/.exec(parts[1] ?? '')?.[1]),
          ranges: parts.slice(8).map((r) => r.split('-').map(Number) as [number, number?]),
        }));
    };
    return {
      nodes: tls ? servers.map((s) => `127.0.0.1:${s.tlsPort}`).join(',') : nodes.join(','),
      servers,
      masterPorts: async () => servingMasters().map((m) => m.port),
      masterOf: async (slot) =>
        servingMasters().find((m) => m.ranges.some(([from, to = from]) => slot >= from && slot <= to))?.port,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface RedisSentinelGroup {
  /** host:port,… of the sentinels: a REDIS_SENTINELS value. */
  sentinels: string;
  /** The master name the sentinels monitor. */
  name: string;
  primary: RedisServer;
  replica: RedisServer;
  /** The ports the sentinels name the primary and the replica by (their TLS ports with `tls`). */
  announced: { primary: number; replica: number };
  /** Each sentinel's plain port (and TLS port, with `tls`). */
  sentinelProcesses: (ClusterNodeProcess & { tlsPort?: number })[];
  /** The port of the master as the sentinels name it now (after a failover, the promoted replica). */
  masterPort(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/**
 * A primary, its replica and 3 `redis-sentinel` processes watching them (quorum 2), on loopback.
 * Resolves once every sentinel knows the replica and the other two sentinels, so a failover can be
 * voted. A small down-after makes a failover quick (the primary is declared down after
 * `downAfterMs`, the replica promoted a second or two later).
 */
export async function startRedisSentinelGroup(
  options: {
    name?: string;
    downAfterMs?: number;
    portRange?: [number, number];
    timeoutMs?: number;
    /**
     * TLS beside the plain ports (which stay, for this harness's redis-cli): servers and sentinels
     * also listen with TLS, replicate and monitor over it, and the sentinels name TLS ports.
     */
    tls?: { certFile: string; keyFile: string; caFile: string };
    /** The servers' requirepass (the sentinels' auth-pass) and the sentinels' own requirepass. */
    auth?: { password: string; sentinelPassword: string };
  } = {},
): Promise<RedisSentinelGroup> {
  if (!hasCommand('redis-server') || !hasCommand('redis-sentinel') || !hasCommand('redis-cli')) {
    throw new Error(
      `${REDIS_INSTALL_HINT} Sentinel also needs redis-sentinel (Debian/Ubuntu: sudo apt-get install redis-sentinel).`,
    );
  }
  const name = options.name ?? 'mymaster';
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const root = mkdtempSync(join(tmpdir(), 'djq-redis-sentinel-'));
  const pickPort = distinctPorts(options.portRange);
  const started: LocalProcess[] = [];
  const sentinelProcesses: (ClusterNodeProcess & { tlsPort?: number })[] = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop('SIGKILL')));
    rmSync(root, { recursive: true, force: true });
  };
  const tls = options.tls;
  const tlsSettings = (tlsPort: number): [string, string][] =>
    tls
      ? [
          ['tls-port', String(tlsPort)],
          ['tls-cert-file', tls.certFile],
          ['tls-key-file', tls.keyFile],
          ['tls-ca-cert-file', tls.caFile],
          ['tls-auth-clients', 'no'],
          ['tls-replication', 'yes'],
        ]
      : [];
  const asArgs = (settings: [string, string][]) => settings.flatMap(([k, v]) => [`--${k}`, v]);
  const { auth } = options;
  const askSentinel = redisCliAs(auth?.sentinelPassword);
  try {
    const primaryTlsPort = tls ? await pickPort() : 0;
    const primary = await startRedisServer({
      port: await pickPort(),
      dir: mkdtempSync(join(root, 'primary-')),
      extraArgs: asArgs(tlsSettings(primaryTlsPort)),
      ...(auth ? { password: auth.password } : {}),
    });
    started.push(primary);
    const replicaTlsPort = tls ? await pickPort() : 0;
    const announced = { primary: tls ? primaryTlsPort : primary.port, replica: tls ? replicaTlsPort : 0 };
    const replica = await startRedisServer({
      port: await pickPort(),
      dir: mkdtempSync(join(root, 'replica-')),
      extraArgs: ['--replicaof', '127.0.0.1', String(announced.primary), ...asArgs(tlsSettings(replicaTlsPort))],
      ...(auth ? { password: auth.password } : {}),
    });
    started.push(replica);
    if (!tls) announced.replica = replica.port;
    for (let i = 0; i < 3; i++) {
      const port = await pickPort();
      const dir = mkdtempSync(join(root, `sentinel-${port}-`));
      const conf = join(dir, 'sentinel.conf');
      const sentinelTlsPort = tls ? await pickPort() : 0;
      // Sentinel rewrites its config file as it learns (replicas, other sentinels, epochs).
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          ...tlsSettings(sentinelTlsPort).map(([k, v]) => `${k} ${v}`),
          `sentinel monitor ${name} 127.0.0.1 ${announced.primary} 2`,
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          // The servers' password, the sentinels' own, and the one they use with each other.
          ...(auth
            ? [
                `sentinel auth-pass ${name} ${auth.password}`,
                `requirepass ${auth.sentinelPassword}`,
                `sentinel sentinel-pass ${auth.sentinelPassword}`,
              ]
            : []),
          '',
        ].join('\n'),
      );
      const child = spawn('redis-sentinel', [conf], { stdio: 'ignore' });
      const sentinel = {
        port,
        ...(tls ? { tlsPort: sentinelTlsPort } : {}),
        dir,
        process: child,
        stop: stopper(child),
      };
      started.push(sentinel);
      sentinelProcesses.push(sentinel);
    }
    for (;;) {
      const ready = sentinelProcesses.every((s) => {
        try {
          const replicas = askSentinel(s.port, 'SENTINEL', 'REPLICAS', name);
          const peers = askSentinel(s.port, 'SENTINEL', 'SENTINELS', name);
          return replicas.includes(String(announced.replica)) && (peers.match(/^name$/gm)?.length ?? 0) >= 2;
        } catch {
          return false;
        }
      });
      if (ready) break;
      for (const s of sentinelProcesses) {
        if (s.process.exitCode !== null) throw new Error(`redis-sentinel on port ${s.port} exited`);
      }
      if (Date.now() > deadline) throw new Error('the sentinels did not find the replica and each other in time');
      await sleep(200);
    }
    return {
      sentinels: sentinelProcesses.map((s) => `127.0.0.1:${s.tlsPort ?? s.port}`).join(','),
      name,
      primary,
      replica,
      announced,
      sentinelProcesses,
      masterPort: async () => {
        for (const s of sentinelProcesses) {
          if (s.process.exitCode !== null || s.process.signalCode !== null) continue;
          try {
            const [, port] = askSentinel(s.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).trim().split('\n');
            return Number(port);
          } catch {
            // Ask the next sentinel.
          }
        }
        return undefined;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
