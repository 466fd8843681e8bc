// `npm start`: the whole system on one machine. It finds or starts Redis and DynamoDB (dynalite,
// behind a capacity limit with --capacity), runs one producer, N workers and the board as child
// processes with a live summary, restarts a worker that dies, and stops everything cleanly on
// Ctrl-C. See STACK_USAGE for the flags.
// Dev tooling, not product: no image copies stack/ (it starts the embedded services of devtools/),
// and it always runs the TypeScript sources under tsx.
import '../shared/runtime/node-version.js';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StackState } from '../cli/stack-state.js';
import { freePort, portOr } from '../devtools/local-services.js';
import { removeStackState, writeStackState } from '../devtools/stack-state.js';
import { createDynamoClients, type DynamoClients, withoutFaults } from '../shared/dynamo/client.js';
import { allShardKeys } from '../shared/lifecycle/keys.js';
import { DecidedOutcomes } from '../shared/operator/decided-outcomes.js';
import { type Config, ConfigError, loadConfig } from '../shared/runtime/config.js';
import { withDeadline } from '../shared/runtime/deadline.js';
import { connectRedis, describeRedis, type RedisConnection } from '../shared/runtime/redis.js';
import { stopWhenParentExits } from '../shared/runtime/shutdown.js';
import { createDynamoStores } from '../shared/store/index.js';
import { openQueueView } from '../shared/wiring.js';
import { parseStackArgs, STACK_USAGE, type StackArgs } from './args.js';
import { entry, Stack } from './children.js';
import { fail, paint, say, tty } from './output.js';
import { endpointAnswers, type LocalServices, startServices, stopServices } from './services.js';
import {
  BackendWatch,
  OutcomesUnreadable,
  READ_DEADLINE_MS,
  type ShardView,
  type SummaryState,
  summary,
  type Tally,
  tally,
} from './summary.js';

/**
 * How long past SHUTDOWN_TIMEOUT_MS (by which a child has exited by itself) the whole stop may take:
 * the children's last seconds, then Redis and dynalite, which are killed once it is spent.
 */
const STOP_GRACE_MS = 3000;
/** The most the stop waits for its output to reach stdout, within the stop's deadline. */
const STDOUT_FLUSH_MS = 2000;
/** What the flush gets even when the deadline is spent: enough for a reader that reads. */
const MIN_STDOUT_FLUSH_MS = 100;

/** The variables `djq` needs to find this stack, written to its state file. */
const STATE_VARIABLES = [
  'REDIS_URL',
  // djq reads the same Redis: a cluster's nodes or the sentinels, and the CA for rediss://.
  'REDIS_CLUSTER_NODES',
  'REDIS_SENTINELS',
  'REDIS_SENTINEL_NAME',
  'REDIS_SENTINEL_PASSWORD',
  'REDIS_TLS_CA_FILE',
  'QUEUE_SHARDS',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_REGION',
  'QUEUE_PREFIX',
  'QUEUE_NAME',
  'DYNAMODB_TABLE_NAME',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
] as const;

/** Everything a running stack holds, for the supervision loop and the shutdown. */
interface Running {
  args: StackArgs;
  config: Config;
  services: LocalServices;
  redis: RedisConnection;
  /** Where the summary reads this run's outcomes (DynamoDB's job records). */
  dynamo: DynamoClients;
  shards: ShardView[];
  stack: Stack;
  stop: StopWatch;
}

/** Whether a stop was asked for, and which signal asked. */
interface StopWatch {
  requested(): string | undefined;
  /** Settles on the first stop request: a summary read in progress does not hold the stop. */
  stopped: Promise<void>;
}

async function main() {
  const args = parseArgsOrFail(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(`${STACK_USAGE}\n`);
    return;
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  const services = await startServices(args, loadStackConfig(args, env), env);
  const config = loadConfig(env);
  const redis = connectRedis(config);
  redis.on('error', () => undefined);
  // The SDK reads credentials from process.env itself: the summary's reads use the stack's (dummy,
  // local ones when it runs dynalite) as its services do.
  for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const) {
    const value = env[key];
    if (value !== undefined) process.env[key] ??= value;
  }
  // Like djq, past the capacity limit (--capacity): the summary's reads take no service's budget.
  const operatorEndpoint = services.operatorDynamoEndpoint;
  const dynamo = createDynamoClients(
    withoutFaults(operatorEndpoint ? { ...config, AWS_ENDPOINT_URL_DYNAMODB: operatorEndpoint } : config),
  );
  const shards = await openShards(config, redis, new DecidedOutcomes(createDynamoStores(dynamo, config).jobs));
  const stack = new Stack({ ...env, LOG_FORMAT: env.LOG_FORMAT ?? (tty ? 'pretty' : 'json') });
  const { metricsPorts, boardUrl } = await startChildren(stack, args, config);
  writeStackState(stackState(env, config, services, metricsPorts, boardUrl));
  announce(args, config, metricsPorts, boardUrl);
  await supervise({ args, config, services, redis, dynamo, shards, stack, stop: watchForStop() });
}

function parseArgsOrFail(argv: string[]): StackArgs {
  try {
    return parseStackArgs(argv);
  } catch (error) {
    fail(`${(error as Error).message}\n\n${STACK_USAGE}`);
  }
}

/** The configuration the flags and the environment ask for (flags win); refuses what cannot work. */
function loadStackConfig(args: StackArgs, env: NodeJS.ProcessEnv): Config {
  if (args.maxOperations !== undefined) env.MAX_OPERATIONS = String(args.maxOperations);
  if (args.interval !== undefined) env.OPERATION_INTERVAL_MS = String(args.interval);
  if (args.perTick !== undefined) env.OPERATIONS_PER_TICK = String(args.perTick);
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  if (args.untilDrained && config.MAX_OPERATIONS === undefined) {
    fail('--until-drained needs --max-operations N (or MAX_OPERATIONS): otherwise the producer never stops.');
  }
  if (args.capacity !== undefined && config.AWS_ENDPOINT_URL_DYNAMODB) {
    fail(
      `--capacity limits the embedded dynalite, but AWS_ENDPOINT_URL_DYNAMODB points at ${config.AWS_ENDPOINT_URL_DYNAMODB}: unset it to use --capacity, or drop --capacity.`,
    );
  }
  return config;
}

/** Every shard's queues and ledger, with where its ledger stands as this run begins. */
async function openShards(config: Config, redis: RedisConnection, decided: DecidedOutcomes): Promise<ShardView[]> {
  const shards: ShardView[] = [];
  for (const keys of allShardKeys(config)) {
    const { queues, ledger, readFlow } = openQueueView(config, redis, keys.shard);
    shards.push({ queues, ledger, readFlow, from: await ledger.position(), decided });
  }
  return shards;
}

/**
 * Workers, the producer and the board. Ports: METRICS_PORT for the producer and METRICS_PORT + i
 * for worker i, BOARD_PORT for the board; one that is taken (another stack, another program) is
 * replaced by a free one, and said so.
 */
async function startChildren(stack: Stack, args: StackArgs, config: Config) {
  const metricsPorts: Record<string, number> = {};
  const pickPort = async (name: string, wanted: number) => {
    const got = await portOr(wanted);
    if (got !== wanted) say(`port ${wanted} is taken: ${name} uses ${got}`);
    return got;
  };
  if (config.METRICS_PORT > 0) {
    metricsPorts.producer = await pickPort('producer', config.METRICS_PORT);
    for (let i = 1; i <= args.workers; i++)
      metricsPorts[`worker-${i}`] = await pickPort(`worker-${i}`, config.METRICS_PORT + i);
  }
  for (let i = 1; i <= args.workers; i++) {
    stack.add(`worker-${i}`, 'worker', {
      WORKER_ID: `worker-${i}`,
      METRICS_PORT: String(metricsPorts[`worker-${i}`] ?? 0),
    });
  }
  stack.add('producer', 'producer', { METRICS_PORT: String(metricsPorts.producer ?? 0) });
  let boardUrl: string | undefined;
  if (existsSync(entry('board'))) {
    // BOARD_PORT=0 is any free port: the stack picks it, so the URL it prints (and djq's) is real.
    const boardPort = config.BOARD_PORT === 0 ? await freePort() : await pickPort('board', config.BOARD_PORT);
    stack.add('board', 'board', { BOARD_PORT: String(boardPort) });
    boardUrl = `http://${config.BOARD_HOST === '0.0.0.0' ? '127.0.0.1' : config.BOARD_HOST}:${boardPort}`;
  }
  return { metricsPorts, boardUrl };
}

/** What `djq` reads to find this stack (cli/stack-state.ts). */
function stackState(
  env: NodeJS.ProcessEnv,
  config: Config,
  services: LocalServices,
  metricsPorts: Record<string, number>,
  boardUrl: string | undefined,
): StackState {
  const stateEnv: Record<string, string> = {};
  for (const key of STATE_VARIABLES) {
    const value = env[key] ?? (config as unknown as Record<string, unknown>)[key];
    if (value !== undefined) stateEnv[key] = String(value);
  }
  if (services.operatorDynamoEndpoint) stateEnv.AWS_ENDPOINT_URL_DYNAMODB = services.operatorDynamoEndpoint;
  return {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    env: stateEnv,
    ...(boardUrl ? { boardUrl } : {}),
    metricsPorts,
  };
}

function announce(args: StackArgs, config: Config, metricsPorts: Record<string, number>, boardUrl?: string): void {
  say(`${args.workers} worker(s), 1 producer`);
  if (boardUrl)
    say(`console at ${paint(4, `${boardUrl}/console`)} · Bull Board at ${paint(4, `${boardUrl}/admin/queues`)}`);
  if (config.METRICS_PORT > 0) {
    say(
      `metrics and health: ${Object.entries(metricsPorts)
        .map(([n, p]) => `${n} :${p}`)
        .join(', ')} (/metrics, /healthz, /readyz)`,
    );
  }
  if (config.MAX_OPERATIONS !== undefined) {
    const seconds =
      Math.ceil(config.MAX_OPERATIONS / config.OPERATIONS_PER_TICK) * (config.OPERATION_INTERVAL_MS / 1000);
    say(
      `producing ${config.MAX_OPERATIONS} jobs, ${config.OPERATIONS_PER_TICK} every ${config.OPERATION_INTERVAL_MS} ms: about ${Math.round(seconds)} s (--interval / --per-tick go faster)`,
    );
  }
}

/** Which signal asked the stack to stop, once one has; a second signal exits at once. */
function watchForStop(): StopWatch {
  let stopRequested: string | undefined;
  let onStop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    onStop = resolve;
  });
  const requestStop = (signal: string) => {
    if (stopRequested) process.exit(130); // a second signal: the children stop on their own (lost IPC)
    stopRequested = signal;
    onStop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => requestStop(signal));
  // `kill <npm's pid>` (what timeout(1), systemd or a supervisor sends to the top process only), or
  // that process dying: the stack must not live on orphaned, producing.
  stopWhenParentExits(requestStop);
  // Said once Ctrl-C is handled: a reader may act on this line.
  say('Ctrl-C stops everything cleanly. In another terminal: npm run -s djq -- stats');
  return { requested: () => stopRequested, stopped };
}

/** --timeout, or the time the producer needs for MAX_OPERATIONS plus five minutes to finish the work. */
function drainTimeoutSeconds(args: StackArgs, config: Config): number {
  if (args.timeout !== undefined) return args.timeout;
  const producing =
    Math.ceil((config.MAX_OPERATIONS ?? 0) / config.OPERATIONS_PER_TICK) * (config.OPERATION_INTERVAL_MS / 1000);
  return Math.ceil(producing) + 300;
}

/**
 * Every half second: a stop asked for, a child that cannot run, a summary line due (every 5 s),
 * and with --until-drained whether every produced job has finished, or its deadline has passed.
 */
async function supervise(run: Running): Promise<never> {
  const limit = run.services.capacityLimit;
  const state: SummaryState = {
    last: { t: 0, done: 0 },
    ...(limit ? { capacity: { limit, mark: { at: Date.now(), stats: limit.stats() } } } : {}),
  };
  const backends = new BackendWatch(run.args.json);
  const showSummary = () => showSummaryWithin(run, state, backends);
  let lastSummary = 0;
  // --until-drained ends by a deadline too: a backend that is down must not make it wait forever.
  const drainDeadline = performance.now() + drainTimeoutSeconds(run.args, run.config) * 1000;
  for (;;) {
    // A stop ends the wait at once: the stop's budget starts at the signal, not at the next tick.
    await Promise.race([sleep(500), run.stop.stopped]);
    if (run.stop.requested()) return shutdown(run, 0);
    const failure = run.stack.failure;
    if (failure) {
      say(failure.reason);
      return shutdown(run, failure.code);
    }
    if (performance.now() - lastSummary > 5000) {
      lastSummary = performance.now();
      await showSummary();
    }
    if (run.args.untilDrained && performance.now() > drainDeadline) return notDrained(run);
    if (run.args.untilDrained && run.stack.producerExit === 0) {
      const drained = await drainedTally(run);
      if (drained) {
        // The run's last state, however short the run was: a line every 5 s may not have come yet.
        await showSummary();
        return shutdown(run, 0, JSON.stringify(drained));
      }
    }
  }
}

/**
 * A summary line, and whether Redis and DynamoDB answer: a stuck Redis or a hanging DynamoDB must
 * not hold the loop that watches for a stop, and a dead backend is said on every summary, not
 * guessed from a quiet one.
 */
async function showSummaryWithin(run: Running, state: SummaryState, backends: BackendWatch): Promise<void> {
  // DynamoDB is asked beside the summary (which reads Redis, and the job records: a summary that
  // cannot read those is left out, and the probe says DynamoDB is down, not Redis).
  const dynamoEndpoint = run.config.AWS_ENDPOINT_URL_DYNAMODB as string;
  const dynamoUp = endpointAnswers(dynamoEndpoint);
  let redisUp = true;
  const shown = summary(run.shards, run.args.json, state).catch((error: unknown) => {
    if (!(error instanceof OutcomesUnreadable)) redisUp = false;
  });
  const settled = await withDeadline(Promise.race([shown, run.stop.stopped]), Date.now() + READ_DEADLINE_MS);
  if (run.stop.requested()) return;
  backends.report('Redis', describeRedis(run.config), settled && redisUp);
  // The probe waits up to ENDPOINT_PROBE_MS on an endpoint that hangs: a stop does not wait for it.
  const answered = await Promise.race([dynamoUp, run.stop.stopped.then(() => undefined)]);
  if (answered === undefined || run.stop.requested()) return;
  backends.report('DynamoDB', dynamoEndpoint, answered);
}

/**
 * This run's tally, or undefined when Redis or DynamoDB does not answer within READ_DEADLINE_MS or
 * a stop is asked for.
 */
async function readTally(run: Running): Promise<Tally | undefined> {
  let t: Tally | undefined;
  await withDeadline(
    Promise.race([
      tally(run.shards).then((read) => {
        t = read;
      }),
      run.stop.stopped,
    ]),
    Date.now() + READ_DEADLINE_MS,
  );
  return t;
}

/** This run's tally once every produced job is completed or dead-lettered, else undefined. */
async function drainedTally(run: Running): Promise<Tally | undefined> {
  const t = await readTally(run);
  const done = t && t.produced >= (run.config.MAX_OPERATIONS ?? 0) && t.completed + t.deadLettered >= t.produced;
  return done ? t : undefined;
}

/** --until-drained past its deadline: stop, exit 1, the last line saying what was done and "drained":false. */
async function notDrained(run: Running): Promise<never> {
  const seconds = drainTimeoutSeconds(run.args, run.config);
  say(`not drained after ${seconds} s (--timeout): stopping, exit 1`);
  const t = await readTally(run);
  return shutdown(run, 1, JSON.stringify({ ...(t ?? {}), drained: false, timeoutSeconds: seconds }));
}

async function shutdown(run: Running, code: number, last?: string): Promise<never> {
  say('stopping: workers finish their in-flight jobs first');
  // One deadline for the whole stop: the children's own SHUTDOWN_TIMEOUT_MS and a short grace.
  const deadline = Date.now() + run.config.SHUTDOWN_TIMEOUT_MS + STOP_GRACE_MS;
  await run.stack.stop(deadline);
  await withDeadline(Promise.all(run.shards.map(({ queues }) => queues.close())), deadline);
  run.redis.disconnect();
  run.dynamo.close();
  await stopServices(run.services, deadline);
  removeStackState();
  // Flushed within the same deadline: the last line matters to a reader, a reader that is gone (a
  // full pipe nobody reads) must not hold us past the bound the whole stop promises.
  const flushMs = Math.min(STDOUT_FLUSH_MS, Math.max(MIN_STDOUT_FLUSH_MS, deadline - Date.now()));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, flushMs);
    process.stdout.write(last ? `${last}\n` : '', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
