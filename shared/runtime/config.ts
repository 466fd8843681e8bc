// The single source of truth for every environment variable the system reads.
// Services, the CLI, docker-compose.yml, .env.example, the Monk manifests and the README table
// are all checked against `configSchema` by test/deploy/env-consistency.test.ts.
import { z } from 'zod';
import { OPERATION_KEYS, type OperationKey, parseOperationMix } from '../domain/operations.js';
import { keyLayoutProblems } from '../lifecycle/keys.js';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ message: 'expected a whole number' })
    .int({ message: 'expected a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

/** A number between `min` and `max`, one message for either bound. */
const between = (min: number, max: number) =>
  z.coerce
    .number({ message: `expected a number between ${min} and ${max}` })
    .min(min, { message: `must be between ${min} and ${max}` })
    .max(max, { message: `must be between ${min} and ${max}` });

const rate = between(0, 1);

/** A string parser as a transform: what it throws becomes the variable's message. */
const parsedBy =
  <T>(parse: (value: string) => T) =>
  (value: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  };

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

/** Names kebab-case-ish: BullMQ forbids ':' in queue names and DynamoDB limits table names. */
const queueName = z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, { message: 'use letters, digits, - and _ only (no ":")' });
/** A prefix may carry a cluster hash tag of its own (`{…}`); keys.ts checks it at start-up. */
const queuePrefix = z
  .string()
  .regex(/^[A-Za-z0-9_{}-]{1,80}$/, { message: 'use letters, digits, -, _ and a {hash tag} only (no ":")' });
const tableName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{3,255}$/, { message: '3-255 characters of letters, digits, _ - .' });

/**
 * Every variable, with its default and a one-line description (`.describe`), which the docs test
 * compares with .env.example and the README table.
 */
export const configSchema = z.object({
  // Connections
  REDIS_URL: url(['redis:', 'rediss:'])
    .default('redis://127.0.0.1:6379')
    .describe(
      'Redis that holds the queues (BullMQ needs maxmemory-policy noeviction); rediss:// for TLS, user:password@ for AUTH/ACL',
    ),
  REDIS_TLS_CA_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('PEM file of the CA that signed the Redis certificate, with a rediss:// REDIS_URL (unset: system CAs)'),
  REDIS_CLUSTER_NODES: z
    .string()
    .transform(parsedBy(parseClusterNodes))
    .optional()
    .describe(
      'Redis Cluster seed nodes host:port,… (set: cluster mode; REDIS_URL then gives only rediss:// and user:password)',
    ),
  REDIS_SENTINELS: z
    .string()
    .transform((v, ctx) => {
      try {
        return parseClusterNodes(v);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional()
    .describe(
      'Redis Sentinel nodes host:port,… (set: the master is the one they name REDIS_SENTINEL_NAME; REDIS_URL then gives only rediss:// and user:password)',
    ),
  REDIS_SENTINEL_NAME: z
    .string()
    .min(1)
    .default('mymaster')
    .describe('Master name the sentinels watch (sentinel monitor <name> …), with REDIS_SENTINELS'),
  REDIS_SENTINEL_PASSWORD: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The sentinels' own password (their requirepass), with REDIS_SENTINELS; unset: the sentinels are asked without one. The master's is in REDIS_URL",
    ),
  REDIS_COMMAND_TIMEOUT_MS: int(100, 600_000)
    .default(30_000)
    .describe(
      "Deadline of each Redis command djq and the board send for an operator (a Redis that stops answering ends the request with an error, not a hang); the services' own connections block by design",
    ),
  QUEUE_NAME: queueName.default('dynamo-ops').describe('Operations queue; the dead-letter queue is `<QUEUE_NAME>-dlq`'),
  QUEUE_PREFIX: queuePrefix
    .default('djq')
    .describe('Redis key prefix for the queues and the ledger (a cluster hash tag is added per shard)'),
  QUEUE_SHARDS: int(1, 1024)
    .default(1)
    .describe('Queues one logical queue is split into, each its own hash tag (a job goes to hash(userId) mod N)'),
  AWS_REGION: z.string().min(1).default('us-east-1').describe('AWS region of the DynamoDB table'),
  AWS_ENDPOINT_URL_DYNAMODB: url(['http:', 'https:'])
    .optional()
    .describe('DynamoDB endpoint override (dynalite, a proxy); unset means real AWS'),
  DYNAMODB_TABLE_NAME: tableName
    .default('users-table')
    .describe('The single table holding events, the users projection and job history'),
  CREATE_TABLES: bool.default(true).describe('Create the table if missing and wait until ACTIVE'),
  DYNAMODB_MAX_ATTEMPTS: int(1, 10).default(3).describe('AWS SDK attempts per DynamoDB call (SDK retries)'),
  DYNAMODB_RETRY_MODE: z
    .enum(['standard', 'adaptive'])
    .default('standard')
    .describe(
      "AWS SDK retry mode: adaptive adds the SDK's own per-client rate limiter on throttles (beside flow control: 0.95 of a throttled table's budget, not 0.87; but its wait has no deadline, see docs/operations.md)",
    ),
  DYNAMODB_CONNECT_TIMEOUT_MS: int(100, 600_000)
    .default(3000)
    .describe('Deadline to open a connection to DynamoDB (per SDK attempt)'),
  DYNAMODB_REQUEST_TIMEOUT_MS: int(100, 600_000)
    .default(10_000)
    .describe('Deadline for an answer from DynamoDB once connected (per SDK attempt)'),

  // Producer
  OPERATION_INTERVAL_MS: int(1).default(3000).describe('Producer tick interval'),
  OPERATIONS_PER_TICK: int(1, 10_000).default(1).describe('Jobs enqueued per tick (one addBulk)'),
  OPERATION_MIX: z
    .string()
    .default('create=30,get=25,update=20,query=10,delete=10,batch=5')
    .transform(parsedBy(parseOperationMix))
    .describe(`Weighted operation mix (${OPERATION_KEYS.join(', ')})`),
  MAX_OPERATIONS: int(1).optional().describe('Stop the producer after this many jobs (unset: forever)'),
  INVALID_JOB_RATE: rate.default(0).describe('Share of jobs with a malformed payload (poison path)'),
  BATCH_SIZE: int(1, 25).default(5).describe('Users per batch-create-users job'),
  JOB_ATTEMPTS: int(1, 100).default(5).describe('BullMQ attempts per job before it is dead-lettered'),
  JOB_BACKOFF_MS: int(1).default(1000).describe('Base of the exponential backoff between attempts'),
  JOB_BACKOFF_JITTER: rate.default(0.5).describe('Share of each backoff delay that is randomised'),
  JOB_KEEP_COMPLETED: int(0).default(1000).describe('Completed jobs kept in Redis (count)'),
  JOB_KEEP_AGE_SECONDS: int(1).default(3600).describe('Completed jobs kept in Redis (age)'),
  LEDGER_MAX_ENTRIES: int(1000)
    .default(100_000)
    .describe('Approximate cap of each ledger stream in Redis (djq check covers what is still in it)'),
  TRANSITION_LOCK_MS: int(1000, 600_000)
    .default(30_000)
    .describe(
      "Per-job lock of dead-letter moves, redrives, purges and recovery; a holder paused past it writes nothing more, a dead holder's lock frees after it",
    ),

  // Worker
  RECOVER_ON_START: bool
    .default(false)
    .describe('Worker: re-enqueue accepted jobs Redis lost (djq recover) before it starts taking jobs'),
  RECOVER_ON_REDIS_CHANGE: bool
    .default(true)
    .describe(
      "Worker: when a shard's Redis is another server than before (a failover, a restart), the shard's watcher re-enqueues the accepted jobs it dropped (djq recover)",
    ),
  WORKER_CONCURRENCY: int(1, 1000).default(16).describe('Jobs processed at once per worker process'),
  WORKER_SHARDS: z
    .string()
    .transform((v, ctx) => {
      const shards = v.split(',').map((s) => s.trim());
      if (shards.some((s) => !/^\d{1,4}$/.test(s))) {
        ctx.addIssue({ code: 'custom', message: 'expected shard numbers separated by commas, e.g. 0,2' });
        return z.NEVER;
      }
      return [...new Set(shards.map(Number))].sort((a, b) => a - b);
    })
    .optional()
    .describe('Shards this worker consumes, e.g. 0,2 (unset: every shard of QUEUE_SHARDS)'),
  WORKER_ID: z.string().min(1).optional().describe('Name of this worker in logs and history (default host-pid)'),
  // At most 120 s: docker-compose.yml's stop_grace_period (150 s) must outlast any value.
  SHUTDOWN_TIMEOUT_MS: int(0, 120_000)
    .default(25_000)
    .describe('Deadline for a whole graceful exit after SIGTERM (in-flight jobs, flushes); then it exits anyway'),
  LOCK_DURATION_MS: int(1000).default(30_000).describe("BullMQ job lock; a dead worker's jobs return after it"),
  STALLED_INTERVAL_MS: int(1000).default(30_000).describe('How often workers look for stalled jobs'),
  MAX_STALLED_COUNT: int(0, 100).default(2).describe('Stalls a job survives before it fails'),
  DLQ_SWEEP_INTERVAL_MS: int(100).default(10_000).describe('How often a worker moves failed jobs missing from the DLQ'),
  // At least a second: new-work signals come at most once a second, and a shorter wait would have
  // a worker stand by again between two of them while work keeps arriving.
  WORKER_STANDBY_AFTER_MS: int(0)
    .refine((ms) => ms === 0 || ms >= 1000, { message: 'must be 0 (never stand by) or at least 1000' })
    .default(30_000)
    .describe(
      "After this long without a job, a worker that does not hold its shard's sweep lease stops polling Redis until new work is signalled (0: never)",
    ),
  FLOW_CONTROL: bool
    .default(true)
    .describe(
      'When DynamoDB throttles, slow the whole fleet (a job rate shared in Redis) and put throttled jobs back without using an attempt',
    ),
  FLOW_RATE_INITIAL: int(1, 1_000_000)
    .optional()
    .describe('Fleet job rate (jobs/s) before the first throttle (unset: no limit until DynamoDB first throttles)'),
  FLOW_RATE_FLOOR: int(1, 1_000_000).default(1).describe('Lowest fleet job rate flow control goes down to (jobs/s)'),
  FLOW_RATE_CEILING: int(1, 1_000_000)
    .default(100_000)
    .describe('Highest fleet job rate; reaching it lifts the limit until the next throttle (jobs/s)'),
  FLOW_RATE_INCREASE: between(0.01, 1)
    .default(0.04)
    .describe(
      'Increase of the fleet job rate per second without throttles while it holds jobs back, as a share of the rate (at least 1 job/s)',
    ),
  FLOW_DECREASE_FACTOR: between(0.1, 0.95)
    .default(0.5)
    .describe(
      'Largest cut of the fleet job rate in one second with throttles (it is cut by the share of requests throttled, to at least this factor)',
    ),
  FAULT_THROTTLE_RATE: rate.default(0).describe('Injected DynamoDB throttling share (demos, tests)'),
  FAULT_ERROR_RATE: rate.default(0).describe('Injected DynamoDB 5xx share (demos, tests)'),
  FAULT_LATENCY_MS: int(0, 600_000).default(0).describe('Injected latency per DynamoDB call'),
  METRICS_PORT: int(0, 65535).default(9464).describe('Worker and producer /metrics, /healthz, /readyz port (0: off)'),
  HISTORY_RETENTION_DAYS: int(1, 3650).default(30).describe('Job history kept (expiresAt TTL attribute)'),
  HISTORY_FLUSH_MS: int(10).default(1000).describe('Job history buffer flush interval'),
  HISTORY_BUFFER_MAX: int(25).default(10_000).describe('Job history entries held in memory at most'),

  // Board
  BOARD_PORT: int(0, 65535).default(3000).describe('Bull Board and operations API port'),
  BOARD_HOST: z.string().min(1).default('127.0.0.1').describe('Bull Board bind address'),
  BOARD_USERNAME: z.string().min(1).optional().describe('Basic auth user for the board (with BOARD_PASSWORD)'),
  BOARD_PASSWORD: z.string().min(1).optional().describe('Basic auth password for the board'),
  BOARD_READ_ONLY: bool
    .default(false)
    .describe('Turn off redrive and purge on the board API (Bull Board itself is always a view)'),
  BOARD_READONLY_USERNAME: z
    .string()
    .min(1)
    .optional()
    .describe('A second board login that can look but not act: no buttons, 403 from every action'),
  BOARD_READONLY_PASSWORD: z.string().min(1).optional().describe('Password of the read-only board login'),
  DLQ_ACTION_RATE_PER_SEC: between(0.1, 1000)
    .default(10)
    .describe(
      'Jobs per second of a bulk DLQ redrive or purge unless one asks for another (board, console page, djq dlq --rate)',
    ),
  JAEGER_UI_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("Jaeger UI base URL (e.g. http://127.0.0.1:16686): the console links a job's timeline to its trace"),

  // Logging
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level'),
  LOG_FORMAT: z
    .enum(['auto', 'json', 'pretty'])
    .default('auto')
    .describe('json in production, pretty in a terminal (auto picks by TTY)'),
});

export type Config = z.output<typeof configSchema>;

export interface ClusterNode {
  host: string;
  port: number;
}

/** `host:port,host:port` (IPv6 as `[::1]:7000`): the seed nodes ioredis's Cluster starts from. */
export function parseClusterNodes(value: string): ClusterNode[] {
  const nodes = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[2]);
      if (!match?.[1] || port < 1 || port > 65535)
        throw new Error(`"${entry}" is not host:port (e.g. 10.0.0.1:6379,10.0.0.2:6379)`);
      return { host: match[1].replace(/^\[|\]$/g, ''), port };
    });
  if (nodes.length === 0) throw new Error('expected at least one host:port');
  return nodes;
}
export type OperationMix = Record<OperationKey, number>;

/** Variables whose values may hold a password (user:password@ in a URL). */
const SECRET_URL_KEYS = new Set(['REDIS_URL']);

/**
 * A URL fit for logs and error messages: the password (and a `password` query parameter, which
 * ioredis also reads) replaced by ***. Text that is not a URL gets the same done by pattern.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString();
  } catch {
    return url.replace(/(\/\/[^/:@\s]*:)[^@\s]*@/g, '$1***@').replace(/(password=)[^&\s]*/gi, '$1***');
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Names of every variable the schema reads. */
export const CONFIG_KEYS = Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[];

/**
 * Parses the environment. Throws one ConfigError naming every bad variable and what is wrong, so
 * a process stops before it connects to anything. Empty strings count as unset.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of CONFIG_KEYS) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') input[key] = value.trim();
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '?');
      // A URL may carry a password: the message goes to logs and terminals.
      const value = SECRET_URL_KEYS.has(key) ? redactUrl(input[key] ?? '') : (input[key] ?? '');
      return `  ${key}=${JSON.stringify(value)}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}\nFix the variable(s) above (see .env.example).`);
  }
  const config = parsed.data;
  if (config.REDIS_TLS_CA_FILE !== undefined && !config.REDIS_URL.startsWith('rediss://')) {
    throw new ConfigError(
      `Invalid configuration:\n  REDIS_TLS_CA_FILE is set but REDIS_URL=${JSON.stringify(redactUrl(config.REDIS_URL))} is not rediss://: use rediss:// for TLS, or unset REDIS_TLS_CA_FILE.`,
    );
  }
  if (config.REDIS_SENTINELS !== undefined && config.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError(
      'Invalid configuration:\n  REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: a Redis is either a cluster or a master watched by sentinels; unset one.',
    );
  }
  const layout = keyLayoutProblems(config);
  if (layout.length > 0) throw new ConfigError(`Invalid configuration:\n${layout.map((p) => `  ${p}`).join('\n')}`);
  const outOfRange = config.WORKER_SHARDS?.filter((shard) => shard >= config.QUEUE_SHARDS) ?? [];
  if (outOfRange.length > 0) {
    throw new ConfigError(
      `Invalid configuration:\n  WORKER_SHARDS=${JSON.stringify(config.WORKER_SHARDS?.join(','))}: shard(s) ${outOfRange.join(', ')} do not exist with QUEUE_SHARDS=${config.QUEUE_SHARDS} (shards are numbered 0 to ${config.QUEUE_SHARDS - 1}).`,
    );
  }
  if (config.FLOW_RATE_FLOOR > config.FLOW_RATE_CEILING) {
    throw new ConfigError(
      `Invalid configuration:\n  FLOW_RATE_FLOOR=${config.FLOW_RATE_FLOOR} is above FLOW_RATE_CEILING=${config.FLOW_RATE_CEILING}: the floor must be at most the ceiling.`,
    );
  }
  if ((config.BOARD_USERNAME === undefined) !== (config.BOARD_PASSWORD === undefined)) {
    throw new ConfigError(
      'Invalid configuration:\n  BOARD_USERNAME and BOARD_PASSWORD: set both to turn on basic auth, or neither.',
    );
  }
  if ((config.BOARD_READONLY_USERNAME === undefined) !== (config.BOARD_READONLY_PASSWORD === undefined)) {
    throw new ConfigError(
      'Invalid configuration:\n  BOARD_READONLY_USERNAME and BOARD_READONLY_PASSWORD: set both for a read-only login, or neither.',
    );
  }
  if (config.BOARD_READONLY_USERNAME !== undefined && config.BOARD_READONLY_USERNAME === config.BOARD_USERNAME) {
    throw new ConfigError(
      'Invalid configuration:\n  BOARD_READONLY_USERNAME: must differ from BOARD_USERNAME (one name, one set of rights).',
    );
  }
  return config;
}

/** Entry points call this: a config error prints one message and exits 2 before anything connects. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
