// ioredis connections, configured the way BullMQ needs them, with TLS and AUTH from the config:
// a rediss:// REDIS_URL turns TLS on (verified against REDIS_TLS_CA_FILE, or the system's CAs),
// and user:password@ in it authenticates (ACL user, or `requirepass` with no user). With
// REDIS_CLUSTER_NODES set, every connection is an ioredis Cluster over those seed nodes, with the
// scheme and credentials of REDIS_URL applied to each node. With REDIS_SENTINELS set, the sentinels
// name the master (REDIS_SENTINEL_NAME), and REDIS_URL again gives only the scheme and credentials.
import { readFileSync } from 'node:fs';
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { type Config, ConfigError, redactUrl } from './config.js';

export { redactUrl };

/** One Redis server or a Redis Cluster: BullMQ, the ledger and the locks take either. */
export type RedisConnection = Redis | Cluster;

/** What a connection needs to know: where, and which CA vouches for the server. */
export type RedisTarget = Pick<Config, 'REDIS_URL' | 'REDIS_TLS_CA_FILE'> &
  Partial<Pick<Config, 'REDIS_CLUSTER_NODES' | 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_SENTINEL_PASSWORD'>>;

/** A target known, by its type, not to be a cluster: its connection is a plain Redis. */
type SingleTarget = Pick<Config, 'REDIS_URL' | 'REDIS_TLS_CA_FILE'> &
  Partial<Pick<Config, 'REDIS_SENTINELS' | 'REDIS_SENTINEL_NAME' | 'REDIS_SENTINEL_PASSWORD'>> & {
    REDIS_CLUSTER_NODES?: undefined;
  };

/** Where a connection goes, for logs and errors: the URL (password hidden) or the cluster's seed nodes. */
export function describeRedis(target: RedisTarget): string {
  if (target.REDIS_CLUSTER_NODES)
    return `cluster ${target.REDIS_CLUSTER_NODES.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (target.REDIS_SENTINELS)
    return `master ${sentinelName(target)} of sentinels ${target.REDIS_SENTINELS.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return redactUrl(target.REDIS_URL);
}

/**
 * TLS options beyond what the URL says. The CA file is read once per connection, so a rotated CA
 * is picked up by the next process; a file that cannot be read is a configuration error.
 */
export function redisTlsOptions(target: RedisTarget): RedisOptions {
  if (!target.REDIS_TLS_CA_FILE) return {};
  let ca: Buffer;
  try {
    ca = readFileSync(target.REDIS_TLS_CA_FILE);
  } catch (error) {
    throw new ConfigError(
      `Invalid configuration:\n  REDIS_TLS_CA_FILE=${JSON.stringify(target.REDIS_TLS_CA_FILE)}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
  return { tls: { ca } };
}

/**
 * Workers and long-lived services: `maxRetriesPerRequest: null` so commands wait out a Redis
 * restart instead of failing (BullMQ requires it for workers).
 */
export function connectRedis(target: SingleTarget, options?: RedisOptions): Redis;
export function connectRedis(target: RedisTarget, options?: RedisOptions): RedisConnection;
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): RedisConnection {
  if (target.REDIS_CLUSTER_NODES) return connectCluster(target, { maxRetriesPerRequest: null, ...options });
  if (target.REDIS_SENTINELS) return connectSentinel(target, { maxRetriesPerRequest: null, ...options });
  return new Redis(target.REDIS_URL, {
    maxRetriesPerRequest: null,
    // Reconnect forever with a capped backoff: a Redis restart must not end the process.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    ...redisTlsOptions(target),
    ...options,
  });
}

/** Producers and the CLI fail fast while Redis is down, so a caller can retry or report it. */
export function connectRedisFailFast(target: SingleTarget, options?: RedisOptions): Redis;
export function connectRedisFailFast(target: RedisTarget, options?: RedisOptions): RedisConnection;
export function connectRedisFailFast(target: RedisTarget, options: RedisOptions = {}): RedisConnection {
  return connectRedis(target, { enableOfflineQueue: false, maxRetriesPerRequest: 1, ...options });
}

/**
 * How a cluster connection rides a master failover. A master that dies goes unnoticed for
 * cluster-node-timeout (15 s by default), then a replica is elected (about 1 s more) and the slot
 * map changes. Meanwhile a command for one of its slots bounces: the dead node refuses it ("Connection
 * is closed": wait retryDelayOnFailover, refresh the slot map, try again), a live node answers MOVED
 * back to the dead one (retried at once), and during the election every node may answer
 * CLUSTERDOWN (wait retryDelayOnClusterDown). Each bounce spends one of maxRedirections, and the
 * command fails with "Too many Cluster redirections" when they run out: so the redirections must
 * last longer than the node timeout plus the election, whatever timeout the operator chose.
 */
/** How long a command keeps retrying through a failover: three default node timeouts (15 s each). */
const FAILOVER_BUDGET_MS = 45_000;
/**
 * The wait between tries on a dead master or a cluster down: long enough that a 45 s budget is
 * ~90 waits (each a slot-map refresh, a cheap CLUSTER SLOTS on one node), short enough that the
 * promoted replica is found within half a second of its election.
 */
const FAILOVER_RETRY_MS = 500;
/** A wait can cost two redirections (MOVED to the dead node, then its refusal): twice the waits. */
const MAX_REDIRECTIONS = Math.ceil((2 * FAILOVER_BUDGET_MS) / FAILOVER_RETRY_MS);
/** When every node is unreachable (all restarting, a network cut): retry forever, at most every 2 s. */
const CLUSTER_RETRY_CAP_MS = 2000;

function connectCluster(target: RedisTarget, options: RedisOptions): Cluster {
  const url = new URL(target.REDIS_URL);
  const { enableOfflineQueue, ...nodeOptions } = options;
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {}, ...redisTlsOptions(target) } : {}),
      // No retryStrategy per node: a node that is gone stays gone; the cluster finds the slot's new master.
      ...nodeOptions,
    },
    retryDelayOnFailover: FAILOVER_RETRY_MS,
    retryDelayOnClusterDown: FAILOVER_RETRY_MS,
    // TRYAGAIN: a multi-key command during a slot migration (a reshard): the same wait.
    retryDelayOnTryAgain: FAILOVER_RETRY_MS,
    maxRedirections: MAX_REDIRECTIONS,
    // Never null: a cluster that lost every node reconnects (from the seed nodes) instead of ending
    // the connection, which would end every command of the process with an error for good.
    clusterRetryStrategy: (times) => Math.min(times * 200, CLUSTER_RETRY_CAP_MS),
    // TLS certificates of managed clusters (ElastiCache, MemoryDB) name the host, not the IP a lookup gives.
    ...(url.protocol === 'rediss:' ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
  };
  return new SettlingCluster(target.REDIS_CLUSTER_NODES ?? [], clusterOptions);
}

/**
 * How long a cluster's connect() may stay unsettled: well past an election (about a second after
 * the node timeout) and the reconnects' 2 s cap, and short enough that a caller that waits on it
 * (BullMQ's worker) tries again soon.
 */
const CONNECT_DEADLINE_MS = 10_000;

/**
 * An ioredis Cluster whose connect() always settles (issue 21). ioredis settles the promise of
 * connect() only through the attempt it started: when that attempt's ready check finds
 * cluster_state:fail (during a failover, between the master marked failed and its replica elected)
 * or cannot reach the node it asks, ioredis drops the attempt, reconnects with a new one, and the
 * first promise stays pending for good, even once a later attempt has the cluster ready. BullMQ
 * awaits that promise when its watchdog resets a worker's blocking connection (a BZPOPMIN left
 * unanswered through the failover), so that worker's fetch loop stopped for good: the process alive
 * and ready, nothing consumed from the shard. Here connect() also settles when the cluster becomes
 * ready, whichever attempt got it there, and fails past a deadline (BullMQ then retries).
 * duplicate() keeps the class: it is how BullMQ makes the blocking connection.
 */
class SettlingCluster extends Cluster {
  readonly #seeds: ClusterNode[];

  constructor(seeds: ClusterNode[], options: ClusterOptions) {
    super(seeds, options);
    this.#seeds = seeds;
  }

  override connect(): Promise<void> {
    return settleConnect(this, super.connect(), CONNECT_DEADLINE_MS);
  }

  /** A disconnect by the caller (not ioredis's own, to reconnect) ends the connects still pending. */
  override disconnect(reconnect = false): void {
    super.disconnect(reconnect);
    if (!reconnect) abortConnects(this);
  }

  override quit(callback?: Parameters<Cluster['quit']>[0]): Promise<'OK'> {
    const quitting = super.quit(callback);
    abortConnects(this);
    return quitting;
  }

  override duplicate(overrideStartupNodes: ClusterNode[] = [], overrideOptions: ClusterOptions = {}): Cluster {
    const seeds = overrideStartupNodes.length > 0 ? overrideStartupNodes : this.#seeds;
    return new SettlingCluster(seeds, { ...this.options, ...overrideOptions });
  }
}

/**
 * The connects of each cluster still waiting, all settled by one 'ready' listener. (Not one
 * listener per connect(): ioredis calls connect() for each of its reconnects, every attempt that
 * a failing cluster drops stays pending up to the deadline, and ten of them, one every 0.2-2 s,
 * went past Node's 10 listeners with anyone else's, a MaxListenersExceededWarning.) A WeakMap, not
 * a field: Cluster's constructor calls connect() before the subclass's fields exist.
 */
const pendingConnects = new WeakMap<Cluster, Set<(error?: unknown) => void>>();

function pendingOf(cluster: Cluster): Set<(error?: unknown) => void> {
  let pending = pendingConnects.get(cluster);
  if (!pending) {
    const settles = new Set<(error?: unknown) => void>();
    cluster.on('ready', () => {
      for (const settle of [...settles]) settle();
    });
    pendingConnects.set(cluster, settles);
    pending = settles;
  }
  return pending;
}

/** After disconnect() or quit(): no attempt will make the cluster ready, so its connects fail now. */
function abortConnects(cluster: Cluster): void {
  const pending = pendingConnects.get(cluster);
  if (!pending) return;
  for (const settle of [...pending]) settle(new Error('Connection is closed.'));
}

/** The attempt's own outcome, or the cluster's 'ready' from any later attempt, or an error at the deadline. */
function settleConnect(cluster: Cluster, attempt: Promise<void>, deadlineMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const pending = pendingOf(cluster);
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      pending.delete(settle);
      if (error === undefined) resolve();
      else reject(error);
    };
    const timer = setTimeout(
      () =>
        settle(new Error(`Redis Cluster not ready within ${deadlineMs} ms of connecting (status ${cluster.status})`)),
      deadlineMs,
    );
    // A deadline for the caller only: it must not keep a process alive that is otherwise done.
    timer.unref();
    pending.add(settle);
    attempt.then(() => settle(), settle);
  });
}

const sentinelName = (target: RedisTarget) => target.REDIS_SENTINEL_NAME ?? 'mymaster';

/**
 * A master found through Redis Sentinel. ioredis asks the sentinels for the master's address on
 * every (re)connect and checks the server it reached is a master (a demoted one is left): a dead
 * master's connection breaks, and the reconnects find the replica once the sentinels promote it.
 * (Not failoverDetector: its disconnect on +switch-master, landing in a reconnect under way, ended
 * that connect with an unhandled "Connection is closed" rejection in the tests.) Commands wait in
 * the offline queue meanwhile (services), or fail at once (producers and the CLI, enableOfflineQueue
 * false: the producer's tick keeps its jobs and tries again on the next interval).
 */
function connectSentinel(target: RedisTarget, options: RedisOptions): Redis {
  const url = new URL(target.REDIS_URL);
  const tls = url.protocol === 'rediss:';
  return new Redis({
    sentinels: target.REDIS_SENTINELS ?? [],
    name: sentinelName(target),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    // The sentinels' own requirepass, which is often not the master's.
    ...(target.REDIS_SENTINEL_PASSWORD ? { sentinelPassword: target.REDIS_SENTINEL_PASSWORD } : {}),
    // TLS to the master and to the sentinels alike (a deployment that encrypts one encrypts both).
    ...(tls
      ? {
          tls: {},
          ...redisTlsOptions(target),
          enableTLSForSentinelMode: true,
          sentinelTLS: redisTlsOptions(target).tls ?? {},
        }
      : {}),
    // Reconnect forever with a capped backoff, to whichever master the sentinels name next.
    retryStrategy: (times) => Math.min(times * 200, 2000),
    // Sentinels all unreachable: keep asking (null would end the connection for good).
    sentinelRetryStrategy: (times) => Math.min(times * 200, 2000),
    ...options,
  });
}

/**
 * Resolves once the connection is ready, or rejects with an error that says what to do, naming the
 * last connection error (a refused password, an untrusted certificate) but never the password.
 */
export async function waitForRedis(redis: RedisConnection, url: string, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  let lastError = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      const cause = lastError ? ` (last error: ${lastError})` : ': is it running?';
      const sentinels = redis instanceof Cluster ? undefined : redis.options.sentinels;
      const where =
        redis instanceof Cluster
          ? `Redis Cluster (REDIS_CLUSTER_NODES, ${redactUrl(url)})`
          : sentinels?.length
            ? `Redis master "${redis.options.name}" of sentinels ${sentinels.map((s) => `${s.host}:${s.port}`).join(',')} (REDIS_SENTINELS, ${redactUrl(url)})`
            : `Redis at ${redactUrl(url)}`;
      reject(
        new Error(
          `${where} did not answer within ${timeoutMs} ms${cause}. ${
            sentinels?.length && /sentinels are unreachable.*(NOAUTH|WRONGPASS)/.test(lastError)
              ? "The sentinels refused the password: check REDIS_SENTINEL_PASSWORD (the sentinels' requirepass, not the master's)."
              : 'Check REDIS_URL (and REDIS_TLS_CA_FILE for rediss://).'
          }`,
        ),
      );
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      lastError = redactSecrets(error.message, url);
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
    };
    redis.on('ready', onReady);
    redis.on('error', onError);
  });
}

/** An error message with the URL's password (and the URL itself) made safe to print. */
export function redactSecrets(message: string, url: string): string {
  let out = message.split(url).join(redactUrl(url));
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) out = out.split(password).join('***');
  } catch {
    // Not a URL: nothing more to hide than redactUrl did.
  }
  return out;
}
