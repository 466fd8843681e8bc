// `npm start`: the whole system on one machine. It finds or starts Redis and DynamoDB (dynalite,
// behind a capacity limit with --capacity), runs one producer, N workers and the board as child
// processes with a live summary, restarts a worker that dies, and stops everything cleanly on
// Ctrl-C. See STACK_USAGE for the flags.
import '../shared/runtime/node-version.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type CapacityLimit, type CapacityStats, startCapacityLimit } from '../shared/dynamo/capacity-limit.js';
import type { FleetFlowView } from '../shared/flow/fleet-rate.js';
import { allShardKeys } from '../shared/lifecycle/keys.js';
import type { Ledger, LedgerPosition } from '../shared/lifecycle/ledger.js';
import type { Queues } from '../shared/lifecycle/queues.js';
import { type Config, ConfigError, loadConfig } from '../shared/runtime/config.js';
import { withDeadline } from '../shared/runtime/deadline.js';
import {
  type LocalProcess,
  portOr,
  redisAnswers,
  startDynalite,
  startRedisServer,
} from '../shared/runtime/local-services.js';
import {
  connectRedis,
  connectRedisFailFast,
  describeRedis,
  redactUrl,
  redisTlsOptions,
  waitForRedis,
} from '../shared/runtime/redis.js';
import { stopWhenParentExits } from '../shared/runtime/shutdown.js';
import { removeStackState, writeStackState } from '../shared/runtime/stack-state.js';
import { openQueueView } from '../shared/wiring.js';
import { parseStackArgs, STACK_USAGE, type StackArgs } from './args.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
/** Under tsx we run the TypeScript sources; from dist/ the compiled JavaScript with plain node. */
const compiled = import.meta.url.endsWith('.js');
const tty = process.stdout.isTTY === true;
const paint = (code: number, text: string) => (tty ? `\u001b[${code}m${text}\u001b[0m` : text);

/** How long past SHUTDOWN_TIMEOUT_MS the stack waits for a child before it SIGKILLs it. */
const CHILD_EXIT_GRACE_MS = 5000;

// Linux makes writes to a pipe synchronous: with a reader that stopped reading (a dead parent's
// pipe), one write would block the stack, and with it every deadline. Writes are queued instead,
// and lines are dropped while more than MAX_QUEUED_OUTPUT is waiting.
const stdoutHandle = (process.stdout as unknown as { _handle?: { setBlocking?: (b: boolean) => void } })._handle;
if (!tty) stdoutHandle?.setBlocking?.(false);
const MAX_QUEUED_OUTPUT = 16 * 1024 * 1024;

function write(text: string) {
  if (process.stdout.writableLength < MAX_QUEUED_OUTPUT) process.stdout.write(text);
}

function say(line: string) {
  write(`${paint(1, '[stack]')} ${line}\n`);
}

/** The variables that name a Redis: any of them set means "use that one, or fail". */
const REDIS_SETTINGS = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const;
/** How long a configured Redis gets to answer at start. */
const REDIS_PROBE_MS = 5000;

function fail(message: string, code = 2): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(code);
}

function entry(service: 'producer' | 'worker' | 'board'): string {
  return join(root, service, compiled ? 'main.js' : 'main.ts');
}

interface Child {
  name: string;
  service: 'producer' | 'worker' | 'board';
  env: Record<string, string>;
  process?: ChildProcess;
  restarts: number;
}

class Stack {
  private readonly children: Child[] = [];
  private stopping = false;
  private fatal: { code: number; reason: string } | undefined;
  producerExit: number | null | undefined;

  constructor(private readonly baseEnv: NodeJS.ProcessEnv) {}

  add(name: string, service: Child['service'], env: Record<string, string>): Child {
    const child: Child = { name, service, env, restarts: 0 };
    this.children.push(child);
    this.spawn(child);
    return child;
  }

  private spawn(child: Child): void {
    const args = compiled ? [entry(child.service)] : ['--import', 'tsx', entry(child.service)];
    const proc = spawn(process.execPath, args, {
      cwd: root,
      env: { ...this.baseEnv, ...child.env },
      // Own process group: Ctrl-C reaches the stack, which then stops the children in order.
      detached: true,
      // The IPC channel tells the child when the stack is gone (it then shuts down by itself).
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.process = proc;
    const color = child.service === 'producer' ? 36 : child.service === 'board' ? 35 : 33;
    const label = paint(color, `[${child.name}]`);
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream }).on('line', (line) => write(`${label} ${line}\n`));
    }
    proc.on('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return;
    if (child.service === 'producer') {
      this.producerExit = code;
      if (code === 0) {
        say('producer finished (MAX_OPERATIONS reached)');
        return;
      }
    }
    if (code === 2) {
      // A configuration error: restarting cannot help.
      this.fatal = { code: 2, reason: `${child.name} rejected its configuration` };
      return;
    }
    if (child.service === 'board') {
      say(`board exited (${signal ?? code}); the rest keeps running`);
      return;
    }
    child.restarts++;
    const delay = Math.min(1000 * child.restarts, 10_000);
    say(
      `${child.name} died (${signal ?? `exit ${code}`}); restarting in ${delay} ms. Its jobs return to the queue when their locks expire.`,
    );
    setTimeout(() => {
      if (!this.stopping) this.spawn(child);
    }, delay).unref();
  }

  get failure() {
    return this.fatal;
  }

  /** SIGTERM to every child; workers finish their in-flight jobs (SHUTDOWN_TIMEOUT_MS). */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const running = this.children.filter(
      (c) => c.process && c.process.exitCode === null && c.process.signalCode === null,
    );
    await Promise.all(
      running.map(async (c) => {
        const proc = c.process as ChildProcess;
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        const done = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
        if (!done) {
          say(`${c.name} did not stop in ${timeoutMs} ms; killing it`);
          proc.kill('SIGKILL');
          await exited;
        }
      }),
    );
  }
}

interface Tally {
  produced: number;
  completed: number;
  deadLettered: number;
}

/** How long the live summary and the drain check wait for Redis before moving on. */
const READ_DEADLINE_MS = 5000;

/** One shard's queues and ledger, and where its ledger stood when this run began. */
interface ShardView {
  queues: Queues;
  ledger: Ledger;
  /** The fleet's flow-control state for this shard. */
  readFlow(): Promise<FleetFlowView>;
  from: LedgerPosition;
}

/**
 * This run's jobs and their latest outcomes, read from the ledger (not from any worker's counters),
 * summed over the shards (one unless QUEUE_SHARDS > 1).
 */
async function tally(shards: readonly ShardView[]): Promise<Tally> {
  const total: Tally = { produced: 0, completed: 0, deadLettered: 0 };
  for (const { ledger, from } of shards) {
    const [enqueued, outcomes] = await Promise.all([
      ledger.readEnqueued(from.enqueued),
      ledger.readOutcomes(from.outcomes),
    ]);
    total.produced += enqueued.size;
    for (const id of enqueued.keys()) {
      const outcome = outcomes.get(id);
      if (outcome === 'completed') total.completed++;
      else if (outcome === 'dead-lettered') total.deadLettered++;
    }
  }
  return total;
}

/** Where the previous summary line left the capacity limit's counters. */
interface CapacityMark {
  at: number;
  stats: CapacityStats;
}

/** The capacity limit since the previous line: units consumed per second and requests throttled. */
function capacitySince(limit: CapacityLimit, mark: CapacityMark) {
  const stats = limit.stats();
  const at = Date.now();
  const seconds = Math.max(0.001, (at - mark.at) / 1000);
  const perSecond = (units: number) => Math.round((units / seconds) * 10) / 10;
  const figures = {
    budgetUnitsPerSecond: limit.budget.writeUnitsPerSecond,
    readUnitsPerSecond: perSecond(stats.readUnits - mark.stats.readUnits),
    writeUnitsPerSecond: perSecond(stats.writeUnits - mark.stats.writeUnits),
    throttled: stats.throttled - mark.stats.throttled,
  };
  mark.at = at;
  mark.stats = stats;
  return figures;
}

async function summary(
  shards: readonly ShardView[],
  json: boolean,
  last: { t: number; done: number },
  capacity?: { limit: CapacityLimit; mark: CapacityMark },
) {
  const perShard = await Promise.all(
    shards.map(({ queues }) => queues.operations.getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
  );
  const counts: Record<string, number> = {};
  for (const c of perShard) for (const [state, n] of Object.entries(c)) counts[state] = (counts[state] ?? 0) + n;
  const dlq = (await Promise.all(shards.map(({ queues }) => queues.deadLetter.getWaitingCount()))).reduce(
    (a, b) => a + b,
    0,
  );
  const t = await tally(shards);
  // The slowest shard's limit: any shard held back by DynamoDB holds part of the work back.
  const flows = await Promise.all(shards.map((s) => s.readFlow()));
  const limited = flows.filter((f) => f.rate !== null);
  const heldBack = limited.length > 0 ? Math.min(...limited.map((f) => f.rate as number)) : null;
  const now = performance.now();
  const done = t.completed + t.deadLettered;
  const rate = last.t > 0 ? ((done - last.done) * 1000) / (now - last.t) : 0;
  last.t = now;
  last.done = done;
  const line = {
    produced: t.produced,
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    completed: t.completed,
    deadLettered: t.deadLettered,
    dlqSize: dlq,
    jobsPerSecond: Math.round(rate * 10) / 10,
    // The fleet's job rate when DynamoDB's throttling has flow control holding the queue back.
    heldBackByDynamo: heldBack === null ? null : { jobsPerSecond: heldBack, now: flows.some((f) => f.heldBack) },
    // Read and write units per second consumed, and requests throttled, since the previous line.
    ...(capacity ? { capacity: capacitySince(capacity.limit, capacity.mark) } : {}),
  };
  if (json) return say(JSON.stringify({ summary: line }));
  const c = line.capacity;
  const dynamo = c
    ? ` · DynamoDB ${c.readUnitsPerSecond} read + ${c.writeUnitsPerSecond} write units/s of ${c.budgetUnitsPerSecond} each, ` +
      `${c.throttled > 0 ? paint(31, String(c.throttled)) : '0'} throttled`
    : '';
  say(
    `produced ${line.produced} · waiting ${line.waiting} · active ${line.active} · retrying ${line.delayed} · ` +
      `completed ${paint(32, String(line.completed))} · dead-lettered ${paint(31, String(line.deadLettered))} · ${line.jobsPerSecond} jobs/s` +
      (line.heldBackByDynamo
        ? ` · ${paint(33, `held back by DynamoDB: ${line.heldBackByDynamo.jobsPerSecond} jobs/s`)}${line.heldBackByDynamo.now ? '' : ' (not reached)'}`
        : '') +
      dynamo,
  );
}

async function main() {
  let args: StackArgs;
  try {
    args = parseStackArgs(process.argv.slice(2));
  } catch (error) {
    fail(`${(error as Error).message}\n\n${STACK_USAGE}`);
  }
  if (args.help) {
    process.stdout.write(`${STACK_USAGE}\n`);
    return;
  }

  const env: NodeJS.ProcessEnv = { ...process.env };
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

  const owned: LocalProcess[] = [];
  const stopServices = async () => {
    for (const service of owned.reverse()) await service.stop();
  };

  // Redis: a configured one (a URL, a cluster's nodes, sentinels) is used or the start fails
  // naming it; never replaced by our own, which would drop its TLS, its nodes and its data. With
  // nothing configured: the default URL if something answers there, else our own redis-server.
  const configured = REDIS_SETTINGS.filter((key) => env[key]);
  if (configured.length > 0) {
    const probe = connectRedisFailFast(config);
    probe.on('error', () => undefined);
    try {
      await waitForRedis(probe, config.REDIS_URL, REDIS_PROBE_MS);
    } catch (error) {
      fail(
        `Redis: ${describeRedis(config)} (from ${configured.join(', ')}) did not answer: ${(error as Error).message}
` +
          `npm start never replaces a configured Redis: start it, or fix ${configured.join(', ')}, or unset them to run an embedded redis-server.`,
      );
    } finally {
      probe.disconnect();
    }
    say(`Redis: using ${describeRedis(config)}${config.REDIS_URL.startsWith('rediss:') ? ' (TLS)' : ''}`);
  } else if (await redisAnswers(config.REDIS_URL, 1500, redisTlsOptions(config))) {
    say(`Redis: using ${redactUrl(config.REDIS_URL)}`);
  } else {
    const server = await startRedisServer().catch((error: Error) => fail(error.message));
    owned.push(server);
    env.REDIS_URL = server.url;
    // Our own server speaks plain redis:// on loopback: a CA for the unreachable one does not apply.
    delete env.REDIS_TLS_CA_FILE;
    say(
      `Redis: nothing answered at ${redactUrl(config.REDIS_URL)}; started redis-server on ${server.url} (data in ${server.dir})`,
    );
  }
  // DynamoDB: the configured endpoint (or real AWS with credentials), else dynalite.
  let capacityLimit: CapacityLimit | undefined;
  /** What `djq` is told to use: never the capacity limit, so operator commands neither spend nor wait on it. */
  let operatorDynamoEndpoint: string | undefined;
  if (config.AWS_ENDPOINT_URL_DYNAMODB) {
    say(`DynamoDB: using ${config.AWS_ENDPOINT_URL_DYNAMODB}`);
  } else {
    const dynalite = await startDynalite(args.dataDir ? { path: args.dataDir } : {});
    owned.push(dynalite);
    env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
    operatorDynamoEndpoint = dynalite.endpoint;
    say(
      `DynamoDB: started dynalite on ${dynalite.endpoint} (${args.dataDir ? `data in ${args.dataDir}` : 'in memory'})`,
    );
    if (args.capacity !== undefined) {
      capacityLimit = await startCapacityLimit(dynalite.endpoint, {
        readUnitsPerSecond: args.capacity,
        writeUnitsPerSecond: args.capacity,
      });
      env.AWS_ENDPOINT_URL_DYNAMODB = capacityLimit.endpoint;
      say(
        `DynamoDB capacity: ${args.capacity} read and ${args.capacity} write units per second for the whole stack, ` +
          `throttled over budget as DynamoDB does (every service goes through ${capacityLimit.endpoint})`,
      );
    }
  }
  const endpoint = new URL(env.AWS_ENDPOINT_URL_DYNAMODB as string);
  if (['127.0.0.1', 'localhost', '[::1]'].includes(endpoint.hostname) && !env.AWS_ACCESS_KEY_ID) {
    // A local endpoint accepts any credentials; the SDK only needs some.
    env.AWS_ACCESS_KEY_ID = 'local';
    env.AWS_SECRET_ACCESS_KEY = 'local';
  }
  config = loadConfig(env);

  const redis = connectRedis(config);
  redis.on('error', () => undefined);
  const shards: ShardView[] = [];
  for (const keys of allShardKeys(config)) {
    const { queues, ledger, readFlow } = openQueueView(config, redis, keys.shard);
    shards.push({ queues, ledger, readFlow, from: await ledger.position() });
  }

  const stack = new Stack({
    ...env,
    LOG_FORMAT: env.LOG_FORMAT ?? (tty ? 'pretty' : 'json'),
  });
  // Ports: METRICS_PORT for the producer and METRICS_PORT + i for worker i, BOARD_PORT for the board;
  // one that is taken (another stack, another program) is replaced by a free one, and said so.
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
    const boardPort = await pickPort('board', config.BOARD_PORT);
    stack.add('board', 'board', { BOARD_PORT: String(boardPort) });
    boardUrl = `http://${config.BOARD_HOST === '0.0.0.0' ? '127.0.0.1' : config.BOARD_HOST}:${boardPort}/admin/queues`;
  }

  const stateEnv: Record<string, string> = {};
  for (const key of [
    'REDIS_URL',
    // djq reads the same Redis: a cluster's nodes or the sentinels, and the CA for rediss://.
    'REDIS_CLUSTER_NODES',
    'REDIS_SENTINELS',
    'REDIS_SENTINEL_NAME',
    'REDIS_TLS_CA_FILE',
    'QUEUE_SHARDS',
    'AWS_ENDPOINT_URL_DYNAMODB',
    'AWS_REGION',
    'QUEUE_PREFIX',
    'QUEUE_NAME',
    'DYNAMODB_TABLE_NAME',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
  ]) {
    const value = env[key] ?? (config as unknown as Record<string, unknown>)[key];
    if (value !== undefined) stateEnv[key] = String(value);
  }
  if (operatorDynamoEndpoint) stateEnv.AWS_ENDPOINT_URL_DYNAMODB = operatorDynamoEndpoint;
  writeStackState({
    pid: process.pid,
    startedAt: new Date().toISOString(),
    env: stateEnv,
    ...(boardUrl ? { boardUrl } : {}),
    metricsPorts,
  });

  say(`${args.workers} worker(s), 1 producer${boardUrl ? `, board at ${paint(4, boardUrl)}` : ''}`);
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
  say('Ctrl-C stops everything cleanly. In another terminal: npm run -s djq -- stats');

  let stopRequested: string | undefined;
  const requestStop = (signal: string) => {
    if (stopRequested) process.exit(130); // a second signal: the children stop on their own (lost IPC)
    stopRequested = signal;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => requestStop(signal));
  // `kill <npm's pid>` (what timeout(1), systemd or a supervisor sends to the top process only), or
  // that process dying: the stack must not live on orphaned, producing.
  stopWhenParentExits(requestStop);

  const shutdown = async (code: number, last?: string) => {
    say('stopping: workers finish their in-flight jobs first');
    await stack.stop(config.SHUTDOWN_TIMEOUT_MS + CHILD_EXIT_GRACE_MS);
    await Promise.all(shards.map(({ queues }) => queues.close()));
    redis.disconnect();
    await capacityLimit?.close();
    await stopServices();
    removeStackState();
    // Flushed with a deadline: the last line matters to a reader, a reader that is gone must not hold us.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      process.stdout.write(last ? `${last}\n` : '', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    process.exit(code);
  };

  const rate = { t: 0, done: 0 };
  const capacity = capacityLimit
    ? { limit: capacityLimit, mark: { at: Date.now(), stats: capacityLimit.stats() } }
    : undefined;
  let lastSummary = 0;
  // A stuck Redis must not hold the loop that also watches for a stop or a failed service.
  const showSummary = async () => {
    const shown = summary(shards, args.json, rate, capacity).catch(() =>
      say('summary unavailable (Redis unreachable?)'),
    );
    if (!(await withDeadline(shown, Date.now() + READ_DEADLINE_MS)))
      say(`summary unavailable: Redis did not answer within ${READ_DEADLINE_MS / 1000} s`);
  };
  for (;;) {
    await sleep(500);
    if (stopRequested) return shutdown(0);
    const failure = stack.failure;
    if (failure) {
      say(failure.reason);
      return shutdown(failure.code);
    }
    if (performance.now() - lastSummary > 5000) {
      lastSummary = performance.now();
      await showSummary();
    }
    if (args.untilDrained && stack.producerExit === 0) {
      let t: Tally | undefined;
      await withDeadline(
        tally(shards).then((read) => {
          t = read;
        }),
        Date.now() + READ_DEADLINE_MS,
      );
      if (t && t.produced >= (config.MAX_OPERATIONS ?? 0) && t.completed + t.deadLettered >= t.produced) {
        // The run's last state, however short the run was: a line every 5 s may not have come yet.
        await showSummary();
        return shutdown(0, JSON.stringify(t));
      }
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`npm start failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
