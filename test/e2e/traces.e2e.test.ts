// Traces for real: a producer, a worker and a board as child processes export OTLP/HTTP (JSON) to a
// receiver this test runs on loopback. For a completed job, a retried one and a dead-lettered one,
// the spans must form one chain across the processes: producer tick → enqueue → BullMQ addBulk
// (producer) → BullMQ process → attempt (worker) → DynamoDB calls; the dead-letter move in the
// same trace; a redrive (board) in a new trace linked to the dead-lettered one. And the worker's
// log lines carry the trace and span ids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import { openQueueView } from '../../shared/wiring.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../helpers/otlp-receiver.js';
import { waitFor } from '../helpers/pipeline.js';
import { isRunning, type Service, startService, stopService } from '../helpers/processes.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const JOBS = 40;
/** OTLP span kinds. */
const PRODUCER = 4;
const CONSUMER = 5;

let receiver: OtlpReceiver;
let resources: TestResources;
const services: Service[] = [];
const workerLines: string[] = [];
let board: { service: Service; origin: string };

const env = testEnv({
  MAX_OPERATIONS: JOBS,
  OPERATION_INTERVAL_MS: 20,
  OPERATIONS_PER_TICK: 1,
  OPERATION_MIX: 'create=1',
  // Poison jobs: dead-lettered after one attempt.
  INVALID_JOB_RATE: 0.25,
  // A quarter of DynamoDB calls fail with a 5xx and the SDK does not retry them: the job does,
  // so about half the valid jobs need a second attempt; ten attempts make every one complete.
  FAULT_ERROR_RATE: 0.25,
  DYNAMODB_MAX_ATTEMPTS: 1,
  JOB_ATTEMPTS: 10,
  JOB_BACKOFF_MS: 10,
  JOB_BACKOFF_JITTER: 0,
  // debug: the per-job "completed" line whose trace fields the test checks is at debug.
  LOG_LEVEL: 'debug',
  BOARD_PORT: 0,
});

function otel(receiverEndpoint: string): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiverEndpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'always_on',
    // Export promptly: the test waits for spans, not for the default 5 s batch delay.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  resources = await openTestResources(env.config);
  const worker = startService('worker/main.ts', { ...env.env, ...otel(receiver.endpoint), WORKER_ID: 'traced-w1' });
  worker.onLine((line) => workerLines.push(line));
  const producer = startService('producer/main.ts', { ...env.env, ...otel(receiver.endpoint), FAULT_ERROR_RATE: '0' });
  const boardService = startService('board/main.ts', {
    ...env.env,
    ...otel(receiver.endpoint),
    FAULT_ERROR_RATE: '0',
    JAEGER_UI_URL: 'http://127.0.0.1:16686',
  });
  services.push(worker, producer, boardService);
  const origin = await waitFor(
    'the board to listen',
    async () => {
      if (!isRunning(boardService.process)) throw new Error(`the board exited: ${boardService.output()}`);
      return /"url":"(http:\/\/[^"/]+)/.exec(boardService.output())?.[1];
    },
    90_000,
  );
  board = { service: boardService, origin };
  expect((await producer.exited).code, producer.output().slice(-2000)).toBe(0);
  const { ledger } = openQueueView(env.config, resources.redis);
  const decided = new DecidedOutcomes(resources.stores.jobs);
  await waitFor(
    'every job to settle',
    async () => (await decided.of((await ledger.readEnqueued()).keys())).size >= JOBS,
    60_000,
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(services.map((s) => stopService(s, 'SIGTERM')));
  await receiver?.close();
  await resources?.cleanup();
});

/** The spans of one job's attempts, in attempt order. */
function attemptsOf(jobId: string): ReceivedSpan[] {
  return receiver.spans
    .filter((s) => s.name.startsWith('attempt ') && s.attributes['djq.job.id'] === jobId)
    .sort((a, b) => Number(a.attributes['djq.job.attempt']) - Number(b.attributes['djq.job.attempt']));
}

function byId(spanId: string | undefined): ReceivedSpan | undefined {
  return receiver.spans.find((s) => s.spanId === spanId);
}

/**
 * Whether every ancestor of the span has arrived: a parent ends (and is exported) after its
 * children, possibly in a later batch, so the waits below wait for whole chains.
 */
function exported(span: ReceivedSpan): boolean {
  for (let s: ReceivedSpan | undefined = span; s?.parentSpanId; ) {
    s = byId(s.parentSpanId);
    if (!s) return false;
  }
  return true;
}

/** Walks parent links up from a span to its trace's root; fails if a parent is missing. */
function ancestry(span: ReceivedSpan): ReceivedSpan[] {
  const chain = [span];
  for (let s = span; s.parentSpanId; ) {
    const parent = byId(s.parentSpanId);
    if (!parent) throw new Error(`span ${s.name} (${s.service}) has a parent ${s.parentSpanId} nobody exported`);
    expect(parent.traceId).toBe(span.traceId);
    chain.push(parent);
    s = parent;
  }
  return chain;
}

/** The producer half of every job's chain, from the attempt's BullMQ `process` span up to the tick. */
function expectProducerChain(attempt: ReceivedSpan): void {
  const chain = ancestry(attempt).map((s) => `${s.service}:${s.name}`);
  expect(chain[0]).toBe(`djq-worker:${attempt.name}`);
  expect(chain).toContain('djq-worker:process ops');
  const fromProducer = chain.slice(chain.indexOf('djq-producer:addBulk ops'));
  expect(fromProducer).toEqual(['djq-producer:addBulk ops', 'djq-producer:enqueue', 'djq-producer:producer tick']);
  const root = ancestry(attempt).at(-1) as ReceivedSpan;
  expect(root.parentSpanId).toBeUndefined();
  expect(byId(ancestry(attempt).find((s) => s.name === 'process ops')?.spanId)?.kind).toBe(CONSUMER);
  expect(receiver.spans.find((s) => s.name === 'enqueue' && s.traceId === attempt.traceId)?.kind).toBe(PRODUCER);
}

function dynamoCallsUnder(attempt: ReceivedSpan): ReceivedSpan[] {
  return receiver.spans.filter((s) => s.parentSpanId === attempt.spanId && s.attributes['rpc.service'] === 'DynamoDB');
}

/** Job ids of every attempt span, grouped: attempts and the outcome of the last one. */
function jobsByOutcome() {
  const ids = new Set(receiver.spans.map((s) => s.attributes['djq.job.id']).filter((id) => typeof id === 'string'));
  return [...ids].map((id) => {
    const attempts = attemptsOf(id as string);
    return { id: id as string, attempts, outcome: attempts.at(-1)?.attributes['djq.job.outcome'] };
  });
}

describe('traces across producer, worker and board', () => {
  it('a completed job: tick → enqueue → addBulk → process → attempt → DynamoDB calls, one trace', async () => {
    const job = await receiver.waitFor('a job completed on its first attempt, with its DynamoDB spans', () =>
      jobsByOutcome().find(
        (j) =>
          j.attempts.length === 1 &&
          j.outcome === 'completed' &&
          exported(j.attempts[0] as ReceivedSpan) &&
          dynamoCallsUnder(j.attempts[0] as ReceivedSpan).length >= 2,
      ),
    );
    const attempt = job.attempts[0] as ReceivedSpan;
    expect(attempt.attributes).toMatchObject({ 'djq.job.op': 'create-user', 'djq.job.attempt': 1 });
    expectProducerChain(attempt);
    const calls = dynamoCallsUnder(attempt);
    expect(calls.map((c) => c.attributes['rpc.method'])).toContain('PutItem');
    expect(calls.every((c) => c.traceId === attempt.traceId && c.service === 'djq-worker')).toBe(true);
    // Consumed capacity, which our client asks DynamoDB to return, is on the call spans.
    expect(calls.some((c) => c.attributes['aws.dynamodb.consumed_capacity'] !== undefined)).toBe(true);
    // The worker's "completed" log line names the attempt's span.
    const line = workerLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.jobId === job.id && String(l.msg).startsWith('create-user completed in '));
    expect(line).toMatchObject({ trace_id: attempt.traceId, span_id: attempt.spanId });
    // The console's timeline names the same trace (from the job's propagation metadata in Redis) and links it.
    const timeline = (await (await fetch(`${board.origin}/api/console/jobs/${job.id}`)).json()) as {
      trace?: { traceId: string; from: string; url?: string };
    };
    expect(timeline.trace).toEqual({
      traceId: attempt.traceId,
      from: 'operations queue',
      url: `http://127.0.0.1:16686/trace/${attempt.traceId}`,
    });
  });

  it('a retried job: every attempt in the one trace the producer started, the failed one marked', async () => {
    const job = await receiver.waitFor('a job that completed after a retry', () =>
      jobsByOutcome().find((j) => j.attempts.length >= 2 && j.outcome === 'completed' && j.attempts.every(exported)),
    );
    const [first, last] = [job.attempts[0] as ReceivedSpan, job.attempts.at(-1) as ReceivedSpan];
    expect(first.attributes).toMatchObject({
      'djq.job.attempt': 1,
      'djq.job.outcome': 'retried',
      'djq.error.retryable': true,
    });
    expect(first.status).toBe(2);
    expect(last.attributes['djq.job.attempt']).toBe(job.attempts.length);
    for (const attempt of job.attempts) {
      expect(attempt.traceId).toBe(first.traceId);
      expectProducerChain(attempt);
    }
    expect(dynamoCallsUnder(last).length).toBeGreaterThan(0);
  });

  it('a dead-lettered job: its failed attempt and the dead-letter move in its trace; a redrive links back to it', async () => {
    const job = await receiver.waitFor('a poison job failed for good and moved to the DLQ', () =>
      jobsByOutcome().find(
        (j) =>
          j.outcome === 'failed' &&
          j.attempts[0]?.attributes['djq.error.kind'] === 'poison' &&
          j.attempts.every(exported) &&
          receiver.spans.some(
            (s) =>
              s.name === 'dead-letter move' &&
              s.attributes['djq.job.id'] === j.id &&
              s.attributes['djq.job.outcome'] === 'dead-lettered' &&
              exported(s),
          ),
      ),
    );
    const attempt = job.attempts[0] as ReceivedSpan;
    expect(attempt.attributes).toMatchObject({ 'djq.error.kind': 'poison', 'djq.error.retryable': false });
    expectProducerChain(attempt);
    const move = receiver.spans.find(
      (s) => s.name === 'dead-letter move' && s.attributes['djq.job.id'] === job.id,
    ) as ReceivedSpan;
    expect(move.traceId).toBe(attempt.traceId);
    expect(ancestry(move).at(-1)?.name).toBe('producer tick');
    // The DLQ entry, added inside the move's span, carries the job's trace to the console.
    const timeline = (await (await fetch(`${board.origin}/api/console/jobs/${job.id}`)).json()) as {
      trace?: { traceId: string; from: string };
    };
    expect(timeline.trace).toMatchObject({ traceId: attempt.traceId, from: 'dead-letter queue' });

    // Redrive through the board (a traced process too): a new trace, linked to the dead-lettered one,
    // and the redriven job's next attempt is in the new trace.
    const session = (await (await fetch(`${board.origin}/api/console/session`)).json()) as { csrfToken: string };
    const response = await fetch(`${board.origin}/api/dlq/redrive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken },
      body: JSON.stringify({ jobIds: [job.id] }),
    });
    expect(response.status, await response.text()).toBe(200);
    const redrive = await receiver.waitFor('the redrive span', () =>
      receiver.spans.find((s) => s.name === 'redrive' && s.attributes['djq.job.id'] === job.id),
    );
    expect(redrive.service).toBe('djq-board');
    expect(redrive.parentSpanId).toBeUndefined();
    expect(redrive.traceId).not.toBe(attempt.traceId);
    expect(redrive.links.map((l) => l.traceId)).toContain(attempt.traceId);
    const again = await receiver.waitFor('the redriven job to be attempted', () =>
      attemptsOf(job.id).find((a) => a.traceId === redrive.traceId && exported(a)),
    );
    expect(ancestry(again).at(-1)?.spanId).toBe(redrive.spanId);
  });
});
