// A capacity-limited DynamoDB for tests and demos. dynalite never throttles; this HTTP proxy in front
// of it holds one budget of read and write capacity units per second, shared by every process that
// talks through it, and answers over budget with DynamoDB's own ProvisionedThroughputExceededException.
//
// A proxy rather than SDK middleware because the budget must be shared by separate processes, as a
// table's is. It rewrites request bodies (to learn the units consumed), which breaks SigV4 signatures:
// fine for dynalite, which does not check them, and the reason it forwards to plain HTTP only.
import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { withDeadline } from '../shared/runtime/deadline.js';
import { type CapacityBudget, CapacityMeter, type CapacityStats, checkBudget } from './capacity-meter.js';
import {
  askForCapacity,
  chargedForError,
  consumedUnits,
  type Exchange,
  exchangeWith,
  kindOf,
  parseObject,
  readBody,
  relay,
  sendError,
  THROTTLED_MESSAGE,
} from './dynamo-wire.js';

export type { CapacityBudget, CapacityStats } from './capacity-meter.js';

export interface CapacityLimit {
  /** Where clients send their requests instead of the target (AWS_ENDPOINT_URL_DYNAMODB). */
  endpoint: string;
  budget: Required<CapacityBudget>;
  /** Cumulative counts since start. */
  stats(): CapacityStats;
  close(): Promise<void>;
}

export interface CapacityLimitOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** The refill clock, in ms; tests inject one to move time without sleeping. @defaultValue performance.now */
  now?: () => number;
  /** Deadline of one exchange with the target, answer body included. @defaultValue 10000 */
  upstreamTimeoutMs?: number;
  /** How long close() lets open requests finish before it cuts their sockets. @defaultValue 2000 */
  closeTimeoutMs?: number;
}

export async function startCapacityLimit(
  target: string,
  budget: CapacityBudget,
  options: CapacityLimitOptions = {},
): Promise<CapacityLimit> {
  const upstream = new URL(target);
  if (upstream.protocol !== 'http:') {
    throw new Error(`the capacity limit forwards to a local DynamoDB over plain HTTP (dynalite), not ${target}`);
  }
  const full = checkBudget(budget);
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 10_000;
  const meter = new CapacityMeter(full, options.now ?? (() => performance.now()));
  const agent = new Agent({ keepAlive: true });
  const exchange = exchangeWith(upstream, agent, upstreamTimeoutMs);
  const server = createServer((req, res) => {
    handle(req, res, meter, exchange).catch(() => sendError(res, 500, 'InternalServerError', 'Internal server error'));
  });
  // A client that stops sending halfway must not hold a handler forever.
  server.requestTimeout = upstreamTimeoutMs;
  server.headersTimeout = upstreamTimeoutMs;
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port ?? 0, host);
  let closing: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    budget: full,
    stats: () => meter.stats(),
    close: () => {
      closing ??= closeServer(server, agent, options.closeTimeoutMs ?? 2000);
      return closing;
    },
  };
}

/** One request: unmetered ones pass through; metered ones are admitted or throttled, then charged. */
async function handle(req: IncomingMessage, res: ServerResponse, meter: CapacityMeter, exchange: Exchange) {
  const body = await readBody(req);
  const kind = kindOf(req);
  if (kind === undefined) {
    const answer = await exchange(req, body);
    return relay(res, answer, answer.body, false);
  }
  if (!meter.admit(kind)) return sendError(res, 400, 'ProvisionedThroughputExceededException', THROTTLED_MESSAGE);
  const forwarded = askForCapacity(body);
  let answer: Awaited<ReturnType<Exchange>>;
  try {
    answer = await exchange(req, forwarded.body);
  } catch {
    meter.release(kind);
    return sendError(res, 500, 'InternalServerError', 'Internal server error');
  }
  const output = answer.status === 200 ? parseObject(answer.body) : undefined;
  meter.charge(kind, answer.status === 200 ? consumedUnits(output) : chargedForError(answer.body));
  // The client did not ask for ConsumedCapacity: it gets the answer it would have had without us.
  if (forwarded.added && output && 'ConsumedCapacity' in output) {
    const { ConsumedCapacity: _unasked, ...rest } = output;
    return relay(res, answer, Buffer.from(JSON.stringify(rest)), true);
  }
  relay(res, answer, answer.body, false);
}

/** Listens on `port` (0: a free one) and says which port it got. */
async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the capacity limit has no TCP address');
  return address.port;
}

/** Lets open requests finish for up to `timeoutMs`, then cuts their sockets. */
async function closeServer(server: Server, agent: Agent, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  if (!(await withDeadline(closed, Date.now() + timeoutMs))) {
    server.closeAllConnections();
    await withDeadline(closed, Date.now() + timeoutMs);
  }
  agent.destroy();
}
