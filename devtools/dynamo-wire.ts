// DynamoDB's JSON protocol over HTTP, as far as the capacity-limited proxy (capacity-limit.ts) needs
// it: which operations read or write, the capacity an answer says was consumed, error answers in
// DynamoDB's shape, and forwarding a request to the target and its answer back.
import { randomBytes } from 'node:crypto';
import {
  type Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request,
  type ServerResponse,
} from 'node:http';
import { crc32 } from 'node:zlib';

export type Kind = 'read' | 'write';

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

/** As dynalite, which rejects larger requests. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const ERROR_TYPE_PREFIX = 'com.amazonaws.dynamodb.v20120810#';
export const THROTTLED_MESSAGE =
  'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.';
/** The least a metered request can cost: a write's minimum, a strong read's. */
export const MIN_UNITS = 1;
/** Not forwarded as received: they describe one hop, or a body this proxy has already read. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'expect', 'upgrade']);

export function kindOf(req: IncomingMessage): Kind | undefined {
  const target = req.headers['x-amz-target'];
  if (typeof target !== 'string' || !target.startsWith(API_PREFIX)) return undefined;
  return KIND_OF_OPERATION.get(target.slice(API_PREFIX.length));
}

/** 52 characters of A-Z and 0-9, as DynamoDB's (and dynalite's) request ids look. */
function requestId(): string {
  return randomBytes(39).toString('base64').toUpperCase().replace(/[+/]/g, '0');
}

/** An error answer in the shape DynamoDB sends, so the SDK parses and classifies it as the real one. */
export function sendError(res: ServerResponse, status: number, type: string, message: string): void {
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

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
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
export function askForCapacity(body: Buffer): { body: Buffer; added: boolean } {
  const input = parseObject(body);
  // Not JSON: forwarded as it is, for the target to reject as DynamoDB would.
  if (!input) return { body, added: false };
  const asked = input.ReturnConsumedCapacity;
  if (asked !== undefined && asked !== 'NONE') return { body, added: false };
  return { body: Buffer.from(JSON.stringify({ ...input, ReturnConsumedCapacity: 'TOTAL' })), added: true };
}

/** `ConsumedCapacity` is one object (single-item ops, Query, Scan) or one per table (batches). */
export function consumedUnits(output: Record<string, unknown> | undefined): number {
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

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A failed conditional write still costs DynamoDB the write (at least one unit); other errors cost
 * nothing. dynalite's error answers carry no ConsumedCapacity, so the minimum stands in.
 */
export function chargedForError(body: Buffer): number {
  const type = parseObject(body)?.__type;
  return typeof type === 'string' && type.endsWith('#ConditionalCheckFailedException') ? MIN_UNITS : 0;
}

/** One request to the target and its whole answer, within `timeoutMs`; rejects on any failure. */
export type Exchange = (req: IncomingMessage, body: Buffer) => Promise<Answer>;

export function exchangeWith(upstream: URL, agent: Agent, timeoutMs: number): Exchange {
  return (req, body) =>
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
        () => outgoing.destroy(new Error(`no answer from ${upstream.origin} in ${timeoutMs} ms`)),
        timeoutMs,
      );
      outgoing.on('error', settle(reject));
      outgoing.end(body);
    });
}

/** The target's answer to the client, with `body` in place of its own (`recomputed`: a new checksum). */
export function relay(res: ServerResponse, answer: Answer, body: Buffer, recomputed: boolean): void {
  const headers = forwardedHeaders(answer.headers, body.length);
  if (recomputed) headers['x-amz-crc32'] = String(crc32(body));
  res.writeHead(answer.status, headers);
  res.end(body);
}
