// The services the stack runs on: the configured Redis if it answers, else a redis-server of its
// own; the configured DynamoDB endpoint (or real AWS), else dynalite, behind a capacity limit with
// --capacity. What it starts itself it stops at the end, in reverse order.
import { type CapacityLimit, startCapacityLimit } from '../devtools/capacity-limit.js';
import { type LocalProcess, redisAnswers, startDynalite, startRedisServer } from '../devtools/local-services.js';
import type { Config } from '../shared/runtime/config.js';
import { redactUrl, redisTlsOptions } from '../shared/runtime/redis.js';
import type { StackArgs } from './args.js';
import { fail, say } from './output.js';

export interface LocalServices {
  /** What the stack started itself, in start order. */
  owned: LocalProcess[];
  capacityLimit?: CapacityLimit;
  /** What `djq` is told to use: never the capacity limit, so operator commands neither spend nor wait on it. */
  operatorDynamoEndpoint?: string;
}

/** Finds or starts Redis and DynamoDB, and points `env` (the children's environment) at them. */
export async function startServices(args: StackArgs, config: Config, env: NodeJS.ProcessEnv): Promise<LocalServices> {
  const services: LocalServices = { owned: [] };
  await findOrStartRedis(config, env, services);
  await findOrStartDynamo(args, config, env, services);
  supplyLocalCredentials(env);
  return services;
}

export async function stopServices(services: LocalServices): Promise<void> {
  await services.capacityLimit?.close();
  for (const service of services.owned.reverse()) await service.stop();
}

async function findOrStartRedis(config: Config, env: NodeJS.ProcessEnv, services: LocalServices): Promise<void> {
  if (await redisAnswers(config.REDIS_URL, 1500, redisTlsOptions(config))) {
    say(`Redis: using ${redactUrl(config.REDIS_URL)}`);
    return;
  }
  const server = await startRedisServer().catch((error: Error) => fail(error.message));
  services.owned.push(server);
  env.REDIS_URL = server.url;
  // Our own server speaks plain redis:// on loopback: a CA for the unreachable one does not apply.
  delete env.REDIS_TLS_CA_FILE;
  say(
    `Redis: nothing answered at ${redactUrl(config.REDIS_URL)}; started redis-server on ${server.url} (data in ${server.dir})`,
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
