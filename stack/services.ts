// The services the stack runs on: the configured Redis, refused when it does not answer (never
// replaced), or with none configured a redis-server of its own; the configured DynamoDB endpoint
// (or real AWS), refused when it does not answer, else dynalite, behind a capacity limit with
// --capacity. What it starts itself it stops at the end, in reverse order, and its temp
// directories go on every exit.
import { rmSync } from 'node:fs';
import { type CapacityLimit, startCapacityLimit } from '../devtools/capacity-limit.js';
import {
  hasCommand,
  type LocalProcess,
  REDIS_INSTALL_HINT,
  redisAnswers,
  startDynalite,
  startRedisServer,
} from '../devtools/local-services.js';
import type { Config } from '../shared/runtime/config.js';
import { withDeadline } from '../shared/runtime/deadline.js';
import {
  connectRedisFailFast,
  describeRedis,
  redactUrl,
  redisTlsOptions,
  waitForRedis,
} from '../shared/runtime/redis.js';

/** How long a configured cluster or set of sentinels gets to answer at start. */
const REDIS_PROBE_MS = 5000;

import type { StackArgs } from './args.js';
import { fail, say } from './output.js';

export interface LocalServices {
  /** What the stack started itself, in start order. */
  owned: LocalProcess[];
  /** Temp directories of our own services: removed on every exit, however it happens. */
  ownedDirs: string[];
  capacityLimit?: CapacityLimit;
  /** What `djq` is told to use: never the capacity limit, so operator commands neither spend nor wait on it. */
  operatorDynamoEndpoint?: string;
}

/** How long a configured DynamoDB endpoint gets to answer at start-up. */
export const ENDPOINT_PROBE_MS = 3000;

/** True when anything answers HTTP at `endpoint` (DynamoDB answers a bare GET with an error: fine). */
export async function endpointAnswers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(ENDPOINT_PROBE_MS) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** Finds or starts Redis and DynamoDB, and points `env` (the children's environment) at them. */
export async function startServices(args: StackArgs, config: Config, env: NodeJS.ProcessEnv): Promise<LocalServices> {
  // A configured DynamoDB that does not answer is said now, once, rather than by services that
  // die and are restarted until the budget runs out.
  if (config.AWS_ENDPOINT_URL_DYNAMODB && !(await endpointAnswers(config.AWS_ENDPOINT_URL_DYNAMODB))) {
    fail(
      `DynamoDB: nothing answers at AWS_ENDPOINT_URL_DYNAMODB=${config.AWS_ENDPOINT_URL_DYNAMODB} (within ${ENDPOINT_PROBE_MS / 1000} s). ` +
        'Start that DynamoDB, fix the URL, or unset it to let npm start run a dynalite of its own.',
    );
  }
  const services: LocalServices = { owned: [], ownedDirs: [] };
  // fail(), a second Ctrl-C and a crash all end in process.exit: nothing of ours may outlive it.
  process.on('exit', () => {
    for (const service of services.owned) if (service.process.exitCode === null) service.process.kill('SIGKILL');
    removeOwnedDirs(services);
  });
  await findOrStartRedis(config, env, services);
  await findOrStartDynamo(args, config, env, services);
  supplyLocalCredentials(env);
  return services;
}

/** Stops what the stack started, in reverse order; what is still running at `deadline` (epoch ms) is killed. */
export async function stopServices(services: LocalServices, deadline: number): Promise<void> {
  await withDeadline(services.capacityLimit?.close() ?? Promise.resolve(), deadline);
  for (const service of [...services.owned].reverse()) {
    if (!(await withDeadline(service.stop(), deadline))) service.process.kill('SIGKILL');
  }
  removeOwnedDirs(services);
}

function removeOwnedDirs(services: LocalServices): void {
  for (const dir of services.ownedDirs) rmSync(dir, { recursive: true, force: true });
}

/**
 * Redis: the configured one, or refused when it does not answer (never replaced); with none
 * configured, a redis-server of our own, so a run writes into no Redis nobody named.
 */
async function findOrStartRedis(config: Config, env: NodeJS.ProcessEnv, services: LocalServices): Promise<void> {
  // A cluster's nodes or sentinels: used as configured (TLS, nodes and data kept), checked first.
  const nodes = (['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const).filter((key) => env[key]?.trim());
  if (nodes.length > 0) {
    const probe = connectRedisFailFast(config);
    probe.on('error', () => undefined);
    try {
      await waitForRedis(probe, config.REDIS_URL, REDIS_PROBE_MS);
    } catch (error) {
      fail(
        `Redis: ${describeRedis(config)} (from ${nodes.join(', ')}) did not answer: ${(error as Error).message}. ` +
          `npm start never replaces a configured Redis: start it, fix ${nodes.join(', ')}, or unset them to run a redis-server of its own.`,
      );
    } finally {
      probe.disconnect();
    }
    say(`Redis: using ${describeRedis(config)}${config.REDIS_URL.startsWith('rediss:') ? ' (TLS)' : ''}`);
  } else if (env.REDIS_URL?.trim()) {
    if (!(await redisAnswers(config.REDIS_URL, 1500, redisTlsOptions(config)))) {
      fail(
        `Redis: nothing answers at REDIS_URL=${redactUrl(config.REDIS_URL)} (within 1.5 s). ` +
          'Start that Redis, fix REDIS_URL, or unset it to let npm start run a redis-server of its own.',
      );
    }
    say(`Redis: using ${redactUrl(config.REDIS_URL)}`);
  } else {
    await startOwnRedis(env, services);
  }
}

/** A redis-server of our own in a temp directory, or why there can be none (with a hint). */
async function startOwnRedis(env: NodeJS.ProcessEnv, services: LocalServices): Promise<void> {
  if (!hasCommand('redis-server')) {
    const local = 'redis://127.0.0.1:6379';
    const hint = (await redisAnswers(local)) ? ` A Redis answers at ${local}: set REDIS_URL=${local} to use it.` : '';
    fail(`${REDIS_INSTALL_HINT}${hint}`);
  }
  const server = await startRedisServer().catch((error: Error) => fail(error.message));
  services.owned.push(server);
  services.ownedDirs.push(server.dir);
  env.REDIS_URL = server.url;
  // Our own server speaks plain redis:// on loopback: a CA file meant for another does not apply.
  delete env.REDIS_TLS_CA_FILE;
  say(
    `Redis: REDIS_URL is unset: started redis-server on ${server.url} (data in ${server.dir}, removed on exit; set REDIS_URL to use a Redis of yours)`,
  );
}

async function findOrStartDynamo(
  args: StackArgs,
  config: Config,
  env: NodeJS.ProcessEnv,
  services: LocalServices,
): Promise<void> {
  if (config.AWS_ENDPOINT_URL_DYNAMODB) {
    say(`DynamoDB: using ${config.AWS_ENDPOINT_URL_DYNAMODB}`);
    return;
  }
  const dynalite = await startDynalite(args.dataDir ? { path: args.dataDir } : {});
  services.owned.push(dynalite);
  env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
  services.operatorDynamoEndpoint = dynalite.endpoint;
  say(`DynamoDB: started dynalite on ${dynalite.endpoint} (${args.dataDir ? `data in ${args.dataDir}` : 'in memory'})`);
  if (args.capacity === undefined) return;
  services.capacityLimit = await startCapacityLimit(dynalite.endpoint, {
    readUnitsPerSecond: args.capacity,
    writeUnitsPerSecond: args.capacity,
  });
  env.AWS_ENDPOINT_URL_DYNAMODB = services.capacityLimit.endpoint;
  say(
    `DynamoDB capacity: ${args.capacity} read and ${args.capacity} write units per second for the whole stack, ` +
      `throttled over budget as DynamoDB does (every service goes through ${services.capacityLimit.endpoint})`,
  );
}

/** A local endpoint accepts any credentials; the SDK only needs some. */
function supplyLocalCredentials(env: NodeJS.ProcessEnv): void {
  const endpoint = new URL(env.AWS_ENDPOINT_URL_DYNAMODB as string);
  if (['127.0.0.1', 'localhost', '[::1]'].includes(endpoint.hostname) && !env.AWS_ACCESS_KEY_ID) {
    env.AWS_ACCESS_KEY_ID = 'local';
    env.AWS_SECRET_ACCESS_KEY = 'local';
  }
}
