// A capacity-limited DynamoDB for tests and demos. dynalite never throttles; this HTTP proxy in front
// of it holds one budget of read and write capacity units per second, shared by every process that
// talks through it, and answers over budget with DynamoDB's own ProvisionedThroughputExceededException.
//
// A proxy rather than SDK middleware because the budget must be shared by separate processes, as a
// table's is. It rewrites request bodies (to learn the units consumed), which breaks SigV4 signatures:
// fine for dynalite, which does not check them, and the reason it forwards to plain HTTP only.
import { randomBytes } from 'node:crypto';
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import { crc32 } from 'node:zlib';
import { withDeadline } from '../shared/runtime/deadline.js';

export interface CapacityBudget {
  readUnitsPerSecond: number;
  writeUnitsPerSecond: number;
  /** unused capacity kept, in seconds of budget (DynamoDB keeps up to 300 s; default 1) */
  burstSeconds?: number;
}

export interface CapacityStats {
  /** Metered requests (reads and writes), throttled ones included. */
  requests: number;
  throttled: number;
  /** Capacity units consumed by admitted reads, as DynamoDB (dynalite) counted them. */
  readUnits: number;
  writeUnits: number;
  throttledReads: number;
  throttledWrites: number;
  /** ms epoch */
  startedAt: number;
}

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

type Kind = 'read' | 'write';

const API_PREFIX = 'DynamoDB_20120810.';
const KIND_OF_OPERATION = new Map<string, Kind>([
  ['GetItem', 'read'],
  ['Query', 'read'],
  ['Scan', 'read'],
  ['BatchGetItem', 'read'],
  ['PutItem', 'write'],
  ['UpdateItem', 'write'],
  ['DeleteItem', 'write'],
  ['BatchWriteItem', 'write'],
]);

/** DynamoDB's longest burst: unused capacity older than 300 s is gone. */
const MAX_BURST_SECONDS = 300;
/** As dynalite, which rejects larger requests. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const ERROR_TYPE_PREFIX = 'com.amazonaws.dynamodb.v20120810#';
const THROTTLED_MESSAGE =
  'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.';
/**
 * Held from admission until the answer says what the request consumed. Without it, every request
 * arriving while others are in flight would see the same positive bucket, and a busy fleet would
 * overshoot the budget by its concurrency. One unit: a write's minimum, a strong read's.
 */
const RESERVED_UNITS = 1;
/** Not forwarded as received: they describe one hop, or a body this proxy has already read. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'expect', 'upgrade']);

/**
 * Tokens refilled continuously at `rate` per second, up to `rate × burstSeconds`, starting full. It
 * may go below zero: DynamoDB lets an admitted request take the bucket into debt.
 */
class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  private readonly ceiling: number;

  constructor(
    private readonly rate: number,
    burstSeconds: number,
    private readonly now: () => number,
  ) {
    this.ceiling = rate * burstSeconds;
    this.tokens = this.ceiling;
    this.refilledAt = now();
  }

  /** A request may go while the bucket is above 0, however much it then consumes. */
  admits(): boolean {
    this.refill();
    return this.tokens > 0;
  }

  /** Takes `units` (a negative number gives them back). */
  take(units: number): void {
    this.refill();
    this.tokens = Math.min(this.ceiling, this.tokens - units);
  }

  private refill(): void {
    const t = this.now();
    const elapsedMs = Math.max(0, t - this.refilledAt);
    this.tokens = Math.min(this.ceiling, this.tokens + (this.rate * elapsedMs) / 1000);
    this.refilledAt = t;
  }
}

function checkBudget(budget: CapacityBudget): Required<CapacityBudget> {
  const full = { burstSeconds: 1, ...budget };
  for (const [name, value] of Object.entries(full)) {
    if (!Number.isFinite(value) || value <= 0)
      throw new RangeError(`capacity budget: ${name} must be > 0, got ${value}`);
  }
  if (full.burstSeconds > MAX_BURST_SECONDS) {
    throw new RangeError(`capacity budget: burstSeconds is at most ${MAX_BURST_SECONDS} (as DynamoDB keeps)`);
  }
  return full;
}

function kindOf(req: IncomingMessage): Kind | undefined {
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string' || !target.startsWith(API_PREFIX)) return undefined;
  return KIND_OF_OPERATION.get(target.slice(API_PREFIX.length));
}

/** 52 characters of A-Z and 0-9, as DynamoDB's (and dynalite's) request ids look. */
function requestId(): string {
  return randomBytes(39).toString('base64').toUpperCase().replace(/[+/]/g, '0');
}

/** An error answer in the shape DynamoDB sends, so the SDK parses and classifies it as the real one. */
function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ __type: `${ERROR_TYPE_PREFIX}${type}`, message });
  res.writeHead(status, {
    'Content-Type': JSON_CONTENT_TYPE,
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-RequestId': requestId(),
    'x-amz-crc32': String(crc32(body)),
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The request as forwarded: with ReturnConsumedCapacity TOTAL when the client did not ask for it
 * (`added`), so the answer always says what was consumed.
 */
function askForCapacity(body: Buffer): { body: Buffer; added: boolean } {
  const input = parseObject(body);
  // Not JSON: forwarded as it is, for the target to reject as DynamoDB would.
  if (!input) return { body, added: false };
  const asked = input.ReturnConsumedCapacity;
  if (asked !== undefined && asked !== 'NONE') return { body, added: false };
  return { body: Buffer.from(JSON.stringify({ ...input, ReturnConsumedCapacity: 'TOTAL' })), added: true };
}

/** `ConsumedCapacity` is one object (single-item ops, Query, Scan) or one per table (batches). */
function consumedUnits(output: Record<string, unknown> | undefined): number {
  const consumed = output?.ConsumedCapacity;
  if (consumed === undefined || consumed === null) return 0;
  const entries = (Array.isArray(consumed) ? consumed : [consumed]) as { CapacityUnits?: unknown }[];
  return entries.reduce((sum, e) => sum + (typeof e?.CapacityUnits === 'number' ? e.CapacityUnits : 0), 0);
}

function forwardedHeaders(headers: IncomingHttpHeaders, length: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_HEADERS.has(name)) out[name] = value;
  }
  out['content-length'] = length;
  return out;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
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
  const now = options.now ?? (() => performance.now());
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 10_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 2000;
  const buckets: Record<Kind, TokenBucket> = {
    read: new TokenBucket(full.readUnitsPerSecond, full.burstSeconds, now),
    write: new TokenBucket(full.writeUnitsPerSecond, full.burstSeconds, now),
  };
  const counts: CapacityStats = {
    requests: 0,
    throttled: 0,
    readUnits: 0,
    writeUnits: 0,
    throttledReads: 0,
    throttledWrites: 0,
    startedAt: Date.now(),
  };
  const agent = new Agent({ keepAlive: true });

  /** One request to the target and its whole answer, within upstreamTimeoutMs. */
  const exchange = (req: IncomingMessage, body: Buffer): Promise<Answer> =>
    new Promise<Answer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle =
        <T>(done: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          done(value);
        };
      const outgoing = request(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: forwardedHeaders(req.headers, body.length),
          agent,
        },
        (answer) => {
          readBody(answer).then(
            settle((answerBody: Buffer) =>
              resolve({ status: answer.statusCode ?? 500, headers: answer.headers, body: answerBody }),
            ),
            settle(reject),
          );
        },
      );
      timer = setTimeout(
        () => outgoing.destroy(new Error(`no answer from ${target} in ${upstreamTimeoutMs} ms`)),
        upstreamTimeoutMs,
      );
      outgoing.on('error', settle(reject));
      outgoing.end(body);
    });

  const relay = (res: ServerResponse, answer: Answer, body: Buffer, recomputed: boolean): void => {
    const headers = forwardedHeaders(answer.headers, body.length);
    if (recomputed) headers['x-amz-crc32'] = String(crc32(body));
    res.writeHead(answer.status, headers);
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const kind = kindOf(req);
    if (kind === undefined) {
      const answer = await exchange(req, body);
      return relay(res, answer, answer.body, false);
    }
    const bucket = buckets[kind];
    counts.requests++;
    if (!bucket.admits()) {
      counts.throttled++;
      if (kind === 'read') counts.throttledReads++;
      else counts.throttledWrites++;
      return sendError(res, 400, 'ProvisionedThroughputExceededException', THROTTLED_MESSAGE);
    }
    bucket.take(RESERVED_UNITS);
    const forwarded = askForCapacity(body);
    let answer: Answer;
    try {
      answer = await exchange(req, forwarded.body);
    } catch {
      // DynamoDB charges nothing for a request it failed.
      bucket.take(-RESERVED_UNITS);
      return sendError(res, 500, 'InternalServerError', 'Internal server error');
    }
    const output = answer.status === 200 ? parseObject(answer.body) : undefined;
    const units = answer.status === 200 ? consumedUnits(output) : chargedForError(answer.body);
    bucket.take(units - RESERVED_UNITS);
    if (kind === 'read') counts.readUnits += units;
    else counts.writeUnits += units;
    if (forwarded.added && output && 'ConsumedCapacity' in output) {
      const { ConsumedCapacity: _unasked, ...rest } = output;
      return relay(res, answer, Buffer.from(JSON.stringify(rest)), true);
    }
    relay(res, answer, answer.body, false);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => sendError(res, 500, 'InternalServerError', 'Internal server error'));
  });
  // A client that stops sending halfway must not hold a handler forever.
  server.requestTimeout = upstreamTimeoutMs;
  server.headersTimeout = upstreamTimeoutMs;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the capacity limit has no TCP address');

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (!(await withDeadline(closed, Date.now() + closeTimeoutMs))) {
      server.closeAllConnections();
      await withDeadline(closed, Date.now() + closeTimeoutMs);
    }
    agent.destroy();
  };

  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    budget: full,
    stats: () => ({ ...counts }),
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

/**
 * A failed conditional write still costs DynamoDB the write (at least one unit); other errors cost
 * nothing. dynalite's error answers carry no ConsumedCapacity, so the minimum stands in.
 */
function chargedForError(body: Buffer): number {
  const type = parseObject(body)?.__type;
  return typeof type === 'string' && type.endsWith('#ConditionalCheckFailedException') ? RESERVED_UNITS : 0;
}
