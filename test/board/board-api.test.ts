// The board's HTTP side over a real worker, Redis and dynalite: basic auth, read-only mode, the DLQ
// API (list, show, redrive, purge), /metrics, the probes and the warning for an open board.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback, parseBasicAuth } from '../../board/auth.js';
import { type Board, startBoard } from '../../board/board-server.js';
import { FleetRate } from '../../shared/flow/fleet-rate.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { type BoardFixture, startBoardFixture, waitFor } from './fixture.js';

let fixture: BoardFixture;
let board: Board;

beforeAll(async () => {
  fixture = await startBoardFixture();
  board = await fixture.startBoard();
});

afterAll(async () => {
  await fixture?.close();
});

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

const tokens = new Map<Board, string | undefined>();
/** The board's CSRF token, as the console page takes it (none on a read-only board). */
async function csrfOf(on: Board, headers: Headers): Promise<string | undefined> {
  if (!tokens.has(on)) {
    const res = await fetch(`${on.origin}/api/console/session`, { headers });
    tokens.set(on, res.ok ? ((await res.json()) as { csrfToken?: string }).csrfToken : undefined);
  }
  return tokens.get(on);
}

/** A call of the board's API; a POST carries the CSRF token unless `csrf: false`. */
async function api(path: string, init: RequestInit & { json?: unknown; on?: Board; csrf?: false } = {}) {
  const { json, on = board, csrf, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set('content-type', 'application/json');
  if (rest.method === 'POST' && csrf !== false) {
    const token = await csrfOf(on, headers);
    if (token) headers.set('x-csrf-token', token);
  }
  const res = await fetch(`${on.origin}${path}`, {
    ...rest,
    headers,
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (the Bull Board page, /metrics): keep the text.
  }
  return { status: res.status, headers: res.headers, body: body as Record<string, unknown> & string };
}

describe('basic auth', () => {
  const user = 'ops';
  const password = 'correct horse battery staple';
  let secured: Board;

  beforeAll(async () => {
    secured = await fixture.startBoard({ BOARD_USERNAME: user, BOARD_PASSWORD: password });
  });

  it('answers 401 with a challenge without credentials or with wrong ones', async () => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/api/dlq', '/metrics']) {
      const res = await api(path, { on: secured });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toMatch(/^Basic realm=/);
    }
    const wrongPassword = await api('/api/dlq', { on: secured, headers: { authorization: basic(user, 'nope') } });
    expect(wrongPassword.status).toBe(401);
    const wrongUser = await api('/api/dlq', { on: secured, headers: { authorization: basic('admin', password) } });
    expect(wrongUser.status).toBe(401);
  });

  it('lets the right credentials through', async () => {
    const page = await api('/admin/queues', { on: secured, headers: { authorization: basic(user, password) } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<html');
    const list = await api('/api/dlq', { on: secured, headers: { authorization: basic(user, password) } });
    expect(list.status).toBe(200);
  });

  it('keeps the container probes open', async () => {
    expect((await api('/healthz', { on: secured })).status).toBe(200);
    expect((await api('/readyz', { on: secured })).status).toBe(200);
  });

  it('parses Basic headers and rejects malformed ones', () => {
    expect(parseBasicAuth(basic('a', 'b:c'))).toEqual({ username: 'a', password: 'b:c' });
    expect(parseBasicAuth(undefined)).toBeUndefined();
    expect(parseBasicAuth('Bearer abc')).toBeUndefined();
    expect(parseBasicAuth(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeUndefined();
  });
});

describe('read-only mode', () => {
  let readOnly: Board;

  beforeAll(async () => {
    readOnly = await fixture.startBoard({ BOARD_READ_ONLY: true });
  });

  it('refuses DLQ writes with 403 and leaves the DLQ as it was', async () => {
    const { poisonJobId } = fixture;
    const redrive = await api('/api/dlq/redrive', { on: readOnly, method: 'POST', json: { jobIds: [poisonJobId] } });
    expect(redrive.status).toBe(403);
    expect(redrive.body.error).toMatch(/read-only/);
    const purge = await api('/api/dlq/purge', { on: readOnly, method: 'POST', json: { all: true, confirm: true } });
    expect(purge.status).toBe(403);
    expect(await fixture.queues.deadLetter.getJob(poisonJobId)).toBeDefined();
  });

  it('still reads', async () => {
    const list = await api('/api/dlq', { on: readOnly });
    expect(list.status).toBe(200);
    expect((list.body.jobs as { jobId: string }[]).map((j) => j.jobId)).toContain(fixture.poisonJobId);
  });

  it("turns off Bull Board's own write actions", async () => {
    const pause = await api(`/admin/queues/api/queues/${fixture.queues.operations.name}/pause`, {
      on: readOnly,
      method: 'PUT',
    });
    expect(pause.status).toBeGreaterThanOrEqual(400);
    expect(await fixture.queues.operations.isPaused()).toBe(false);
    const queues = await api('/admin/queues/api/queues', { on: readOnly });
    const listed = (queues.body.queues as { name: string; readOnlyMode: boolean }[]).map((q) => [
      q.name,
      q.readOnlyMode,
    ]);
    expect(listed).toEqual(
      expect.arrayContaining([
        [fixture.queues.operations.name, true],
        [fixture.queues.deadLetter.name, true],
      ]),
    );
  });
});

describe('Bull Board is a view, also on a writable board', () => {
  it('refuses its own clean, remove and retry, which would bypass the ledger and the job locks', async () => {
    const dlq = fixture.queues.deadLetter.name;
    const ops = fixture.queues.operations.name;
    const attempts = [
      api(`/admin/queues/api/queues/${dlq}/clean/waiting`, { method: 'PUT' }),
      api(`/admin/queues/api/queues/${dlq}/${fixture.poisonJobId}/clean`, { method: 'PUT' }),
      api(`/admin/queues/api/queues/${ops}/clean/failed`, { method: 'PUT' }),
      api(`/admin/queues/api/queues/${ops}/retry/failed`, { method: 'PUT' }),
    ];
    // 405: Bull Board's own "queue is read-only" answer (a 404 would mean the route was wrong).
    for (const res of await Promise.all(attempts)) expect(res.status).toBe(405);
    expect(await fixture.queues.deadLetter.getJob(fixture.poisonJobId)).toBeDefined();
    const queues = await api('/admin/queues/api/queues');
    const listed = (queues.body.queues as { name: string; readOnlyMode: boolean }[]).map((q) => [
      q.name,
      q.readOnlyMode,
    ]);
    expect(listed).toEqual(
      expect.arrayContaining([
        [ops, true],
        [dlq, true],
      ]),
    );
  });
});

describe('flow control', () => {
  it('shows the fleet rate, and RATE-LIMITED while DynamoDB flow control holds the queue back', async () => {
    // A queue of its own with no worker, so only this test's reports move its fleet rate.
    const queueName = 'throttled';
    const flowBoard = await fixture.startBoard({ QUEUE_NAME: queueName });
    const keys = queueKeys({ ...fixture.config, QUEUE_NAME: queueName });
    const clock = { second: 1_000_000 };
    const fleet = new FleetRate(
      fixture.resources.redis,
      keys,
      { floor: 1, ceiling: 1000, increase: 0.1, factor: 0.5 },
      () => clock.second,
    );
    // Every request throttled: the rate is cut by half (the factor), from the 40 jobs started to 20.
    await fleet.report({ started: 40, requests: 80, throttled: 80, capacityUnits: 40 });
    clock.second += 1;
    await fleet.report({ started: 0, requests: 0, throttled: 0, capacityUnits: 0 });
    // BullMQ's window counter at the limit: jobs would be waiting on it.
    await fixture.resources.redis.set(keys.bullLimiter, 20, 'PX', 60_000);

    const flow = await waitFor('the board to read the fleet rate', async () => {
      const res = await api('/api/flow', { on: flowBoard });
      const shards = res.body.shards as { rate: number | null; heldBack: boolean }[];
      return shards[0]?.heldBack ? shards : undefined;
    });
    expect(flow[0]).toMatchObject({ rate: 20, heldBack: true, lastSecond: { started: 40, throttled: 80 } });
    const queues = await api('/admin/queues/api/queues', { on: flowBoard });
    const listed = queues.body.queues as { name: string; description?: string }[];
    expect(listed.find((q) => q.name === queueName)?.description).toContain(
      'RATE-LIMITED by DynamoDB flow control: 20 jobs/s (holding jobs back)',
    );
    // The fixture's own queue has no limit and says nothing about it.
    const own = await api('/admin/queues/api/queues');
    const ops = (own.body.queues as { name: string; description?: string }[]).find(
      (q) => q.name === fixture.queues.operations.name,
    );
    expect(ops?.description).not.toContain('flow control');
  });
});

describe('metrics and probes', () => {
  it('exposes queue gauges read from Redis on scrape, and Node defaults', async () => {
    const res = await api('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const ops = fixture.queues.operations.name;
    const text = res.body;
    expect(text).toContain(`djq_queue_jobs{queue="${ops}",state="completed"} 1`);
    for (const state of ['waiting', 'active', 'delayed', 'failed'])
      expect(text).toContain(`djq_queue_jobs{queue="${ops}",state="${state}"} 0`);
    expect(text).toContain(`djq_dlq_jobs{queue="${fixture.queues.deadLetter.name}"} 1`);
    expect(text).toContain('djq_board_queue_scrape_success 1');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('answers /healthz and /readyz with Redis and DynamoDB checked', async () => {
    expect((await api('/healthz')).status).toBe(200);
    const ready = await api('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ ready: true, checks: { redis: 'ok', dynamodb: 'ok' } });
  });

  it('is not ready when the table is missing', async () => {
    const noTable = await fixture.startBoard({ DYNAMODB_TABLE_NAME: `${fixture.config.DYNAMODB_TABLE_NAME}-missing` });
    const ready = await api('/readyz', { on: noTable });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ ready: false, checks: { redis: 'ok' } });
  });
});

describe('the DLQ API', () => {
  it('lists and shows a dead-lettered job with its reason and attempts', async () => {
    const { poisonJobId } = fixture;
    const list = await api('/api/dlq?reason=poisonpayload');
    expect(list.status).toBe(200);
    const entry = (list.body.jobs as Record<string, unknown>[]).find((j) => j.jobId === poisonJobId);
    expect(entry).toMatchObject({
      jobId: poisonJobId,
      name: 'create-user',
      payload: { user: { name: 42 } },
      reason: expect.stringMatching(/^PoisonPayloadError: invalid create-user payload/),
      attemptsMade: 1,
      attempts: [expect.objectContaining({ attempt: 1, errorClass: 'PoisonPayloadError', retryable: false })],
    });
    expect((await api('/api/dlq?reason=no-such-reason')).body).toEqual({ count: 0, jobs: [] });

    const show = await api(`/api/dlq/${poisonJobId}`);
    expect(show.status).toBe(200);
    expect(show.body).toMatchObject({ jobId: poisonJobId, attemptsMade: 1 });
    const missing = await api('/api/dlq/no-such-job');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/no job no-such-job/);
  });

  it('answers an unknown /api route with 404 and the list of routes, each of which exists', async () => {
    const missing = await api('/api/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.try).toContain('GET /api/flow');
    for (const route of missing.body.try as unknown as string[]) {
      const [method = '', path = ''] = route.replace(':jobId', 'no-such-job').split(' ');
      const res = await api(path, { method, ...(method === 'POST' ? { json: {} } : {}) });
      // A route that exists answers for itself (a missing job's 404 names the job, not the routes).
      expect(res.body.try, route).toBeUndefined();
    }
  });

  it('rejects bad bodies with 400 and one message', async () => {
    const cases: [string, RequestInit & { json?: unknown }, RegExp][] = [
      ['/api/dlq/redrive', { body: '{not json', headers: { 'content-type': 'application/json' } }, /not valid JSON/],
      ['/api/dlq/redrive', { body: 'jobIds=1' }, /JSON object body/],
      ['/api/dlq/redrive', { json: {} }, /either "jobIds"/],
      ['/api/dlq/redrive', { json: { jobIds: [] } }, /jobIds: list at least one/],
      ['/api/dlq/redrive', { json: { jobIds: ['a'], all: true } }, /either "jobIds"/],
      ['/api/dlq/redrive', { json: { jobIds: ['a'], reason: 'x' } }, /reason/],
      ['/api/dlq/redrive', { json: { all: true, extra: 1 } }, /extra/],
      ['/api/dlq/purge', { json: { all: true } }, /confirm/],
      ['/api/dlq/purge', { json: [fixture.poisonJobId] }, /JSON object body/],
    ];
    for (const [path, init, message] of cases) {
      const res = await api(path, { method: 'POST', ...init });
      expect(res.status, JSON.stringify(init)).toBe(400);
      expect(res.body.error, JSON.stringify(init)).toMatch(message);
    }
    // Nothing was redriven or purged by any of them.
    expect((await fixture.queues.deadLetter.getJob(fixture.poisonJobId))?.data.attemptsMade).toBe(1);
  });

  it('refuses a redrive or purge without the CSRF token, and takes one with it', async () => {
    const second = await fixture.enqueuePoison();
    await fixture.deadLettered(second);
    for (const path of ['/api/dlq/redrive', '/api/dlq/purge']) {
      const refused = await api(path, { method: 'POST', json: { jobIds: [second] }, csrf: false });
      expect(refused.status, path).toBe(403);
      expect(refused.body.error, path).toMatch(/x-csrf-token/);
      const forged = await api(path, {
        method: 'POST',
        json: { jobIds: [second] },
        csrf: false,
        headers: { 'x-csrf-token': 'forged' },
      });
      expect(forged.status, path).toBe(403);
    }
    expect((await fixture.queues.deadLetter.getJob(second))?.data.attemptsMade).toBe(1);
    const purged = await api('/api/dlq/purge', { method: 'POST', json: { jobIds: [second] } });
    expect(purged.status).toBe(200);
    expect(purged.body).toMatchObject({ purged: [second], notFound: [] });
  });

  it('runs a redrive through the rate-limited bulk runner: kept as an action, listed by the console', async () => {
    const second = await fixture.enqueuePoison();
    await fixture.deadLettered(second);
    const res = await api('/api/dlq/redrive', { method: 'POST', json: { jobIds: [second], ratePerSecond: 5 } });
    expect(res.body).toMatchObject({ redriven: [second] });
    const action = await api(`/api/console/dlq/actions/${res.body.actionId}`);
    expect(action.body).toMatchObject({
      action: 'redrive',
      status: 'finished',
      ratePerSecond: 5,
      total: 1,
      done: 1,
      by: 'board',
    });
    await fixture.deadLettered(second, 2);
    await api('/api/dlq/purge', { method: 'POST', json: { jobIds: [second] } });
  });

  it('redrives a job: it runs again and comes back with one more attempt', async () => {
    const { poisonJobId } = fixture;
    const res = await api('/api/dlq/redrive', { method: 'POST', json: { jobIds: [poisonJobId, 'no-such-job'] } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ redriven: [poisonJobId], notFound: ['no-such-job'], actionId: expect.any(String) });

    const back = await fixture.deadLettered(poisonJobId, 2);
    expect(back.attempts.map((a) => a.attempt)).toEqual([1, 1]);
    expect(back.redrives).toBe(1);
    const shown = await api(`/api/dlq/${poisonJobId}`);
    expect(shown.body).toMatchObject({ attemptsMade: 2, redrives: 1 });
    // The redrive is a lifecycle transition like any other: in the job's history, by the board.
    const history = await waitFor('the redrive in the job history', async () => {
      const entries = await fixture.resources.stores.history.list(poisonJobId);
      return entries.some((e) => e.type === 'redriven') && entries;
    });
    expect(history.find((e) => e.type === 'redriven')).toMatchObject({ workerId: 'board' });
  });

  it('redrives all jobs matching a reason', async () => {
    const second = await fixture.enqueuePoison();
    await fixture.deadLettered(second);
    const res = await api('/api/dlq/redrive', { method: 'POST', json: { all: true, reason: 'PoisonPayloadError' } });
    expect(res.status).toBe(200);
    expect([...(res.body.redriven as string[])].sort()).toEqual([fixture.poisonJobId, second].sort());
    await fixture.deadLettered(second, 2);
    await fixture.deadLettered(fixture.poisonJobId, 3);
  });

  it('purges by id, and everything only with confirm', async () => {
    const extra = await fixture.enqueuePoison();
    await fixture.deadLettered(extra);
    const one = await api('/api/dlq/purge', { method: 'POST', json: { jobIds: [extra] } });
    expect(one.body).toEqual({ purged: [extra], notFound: [], actionId: expect.any(String) });
    expect(await fixture.queues.deadLetter.getJob(extra)).toBeUndefined();
    expect((await fixture.worker.system.ledger.readOutcomes()).get(extra)).toBe('purged');

    const before = (await api('/api/dlq')).body.count as number;
    expect(before).toBeGreaterThan(0);
    const all = await api('/api/dlq/purge', { method: 'POST', json: { all: true, confirm: true } });
    expect(all.status).toBe(200);
    expect((all.body.purged as string[]).length).toBe(before);
    expect((await api('/api/dlq')).body).toEqual({ count: 0, jobs: [] });
    await waitFor('the DLQ gauge to read 0', async () =>
      (await api('/metrics')).body.includes(`djq_dlq_jobs{queue="${fixture.queues.deadLetter.name}"} 0`),
    );
  });
});

describe('binding', () => {
  it('warns loudly when bound beyond loopback without auth, and not with auth', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: 'warn' }, sink);
    await (await fixture.startBoard({}, logger)).close();
    expect(lines).toEqual([]);

    const open = await startBoard({
      config: fixture.config,
      redis: fixture.resources.redis,
      logger,
      host: '0.0.0.0',
      port: 0,
    });
    await open.close();
    expect(lines.join('')).toMatch(/beyond loopback, WITHOUT authentication/);

    lines.length = 0;
    const secured = await startBoard({
      config: { ...fixture.config, BOARD_USERNAME: 'u', BOARD_PASSWORD: 'p' },
      redis: fixture.resources.redis,
      logger,
      host: '0.0.0.0',
      port: 0,
    });
    await secured.close();
    expect(lines).toEqual([]);
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'board.example.com']) expect(isLoopback(host), host).toBe(false);
  });
});
