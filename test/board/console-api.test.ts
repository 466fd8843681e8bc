// The console's HTTP side over a real worker, Redis and dynalite: the page and its assets from
// this process only, Bull Board linking to it without a web font, search (a job pruned from Redis
// included), a timeline, charts, and DLQ actions behind the CSRF token, refused read-only, run
// only for the exact count confirmed, with progress, recorded under the operator's name.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Board } from '../../board/board-server.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { type BoardFixture, pruneFromRedis, startBoardFixture, waitFor } from './fixture.js';

const credentials = { username: 'ops', password: 'console-test-secret' };
const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
let fixture: BoardFixture;
let board: Board;
let readOnly: Board;
const user = randomUUID();
const prunedJobId = randomUUID();

beforeAll(async () => {
  fixture = await startBoardFixture();
  const config = { BOARD_USERNAME: credentials.username, BOARD_PASSWORD: credentials.password };
  board = await fixture.startBoard(config);
  readOnly = await fixture.startBoard({ ...config, BOARD_READ_ONLY: true });
  // Accepted like the producer does (a DynamoDB record first), run, then pruned from Redis.
  await fixture.worker.system.lifecycle.enqueue([{ id: prunedJobId, name: 'get-user', data: { userId: user } }]);
  await waitFor('the job to complete', async () => (await fixture.resources.stores.jobs.get(prunedJobId))?.outcome);
  await pruneFromRedis(fixture.queues.operations, prunedJobId);
});

afterAll(async () => {
  await fixture?.close();
});

async function call(path: string, init: { method?: string; json?: unknown; csrf?: string; on?: Board } = {}) {
  const headers: Record<string, string> = { authorization };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  if (init.csrf !== undefined) headers['x-csrf-token'] = init.csrf;
  const res = await fetch(`${(init.on ?? board).origin}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

const session = async (on = board) => (await call('/api/console/session', { on })).body;

describe('the console page', () => {
  it('is served behind the same auth, with its assets from here only', async () => {
    expect((await fetch(`${board.origin}/console`)).status).toBe(401);
    const page = await call('/console');
    expect(page.status).toBe(200);
    const html = String(page.body.text);
    expect(html).toContain('<script defer src="/console/console.js">');
    expect(html).not.toMatch(/https?:\/\//);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'self'/);
    expect((await call('/console/console.js')).status).toBe(200);
  });

  it('is linked from Bull Board, whose page no longer fetches Google Fonts', async () => {
    const html = String((await call('/admin/queues')).body.text);
    expect(html).not.toContain('fonts.googleapis.com');
    expect(html).toContain('"url":"/console"');
  });
});

describe('Bull Board on the dead-letter queue', () => {
  it("shows an entry's reason and numbered attempts as its log, and no missing-workers badge", async () => {
    const dlq = fixture.queues.deadLetter.name;
    const logs = await call(`/admin/queues/api/queues/${encodeURIComponent(dlq)}/${fixture.poisonJobId}/logs`);
    expect(logs.status).toBe(200);
    const lines = (logs.body as unknown as string[]).join('\n');
    expect(lines).toMatch(/#1 \(generation 1, attempt 1\) .* PoisonPayloadError \(not retryable\)/);
    expect(lines).toMatch(/dead-lettered .* after 1 attempt\(s\)/);
    const { queues } = (await call('/admin/queues/api/queues')).body as {
      queues: { name: string; hasWorkers?: unknown }[];
    };
    expect(queues.find((q) => q.name === dlq)?.hasWorkers).toBeNull();
  });
});

describe('the console API', () => {
  it('names the operator and hands out a CSRF token (none to a read-only board)', async () => {
    expect(await session()).toMatchObject({
      operator: 'board:ops',
      readOnly: false,
      csrfToken: expect.any(String),
      defaultRate: 10,
    });
    const ro = await session(readOnly);
    expect(ro).toMatchObject({ readOnly: true });
    expect(ro).not.toHaveProperty('csrfToken');
  });

  it('finds a job Redis pruned, by user, and shows its timeline', async () => {
    expect(await fixture.queues.operations.getJob(prunedJobId)).toBeUndefined();
    const found = await call(`/api/console/jobs?userId=${user}`);
    expect(found.status).toBe(200);
    expect(found.body.jobs).toEqual([
      expect.objectContaining({ jobId: prunedJobId, state: 'completed', op: 'get-user' }),
    ]);
    const timeline = await call(`/api/console/jobs/${prunedJobId}`);
    expect(timeline.body.attempts).toEqual([expect.objectContaining({ n: 1, outcome: 'completed' })]);
    expect((await call(`/api/console/users/${user}/jobs`)).body.jobs).toHaveLength(1);
    expect((await call('/api/console/jobs/no-such-job')).status).toBe(404);
    expect((await call('/api/console/jobs?state=sleeping')).status).toBe(400);
  });

  it("draws the charts as SVG from BullMQ's metrics, the job records and the workers' series", async () => {
    const charts = await call('/api/console/charts?minutes=10');
    expect(charts.status).toBe(200);
    expect((charts.body.completed as number[]).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect((charts.body.deadLettered as number[]).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(String(charts.body.svg)).toMatch(/^<svg[^>]*>.*Completed per minute/s);
    for (const title of ['Failed attempts', 'Put back', 'Attempt duration', 'Queue depth', 'DynamoDB capacity units'])
      expect(String(charts.body.svg)).toContain(`${title} per minute`);
  });

  it('links a job to its trace in Jaeger from the propagation metadata Redis holds, and from its history once Redis pruned it, when JAEGER_UI_URL is set', async () => {
    // Arrange: a job added with bullmq-otel's metadata (tracing itself is off in this process).
    const traced = await fixture.startBoard({
      BOARD_USERNAME: credentials.username,
      BOARD_PASSWORD: credentials.password,
      JAEGER_UI_URL: 'http://jaeger.example:16686/',
    });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const jobId = randomUUID();
    await fixture.queues.operations.add(
      'get-user',
      { userId: randomUUID() },
      {
        ...operationJobOptions(fixture.config),
        jobId,
        telemetry: { metadata: JSON.stringify({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` }) },
      },
    );
    await waitFor('the job to complete', async () => (await fixture.resources.stores.jobs.get(jobId))?.outcome);
    await fixture.worker.system.history.flush();

    // Act
    const linked = await call(`/api/console/jobs/${jobId}`, { on: traced });
    const unlinked = await call(`/api/console/jobs/${jobId}`);
    const untraced = await call(`/api/console/jobs/${prunedJobId}`, { on: traced });

    // Assert
    expect(linked.body.trace).toEqual({
      traceId,
      from: 'operations queue',
      url: `http://jaeger.example:16686/trace/${traceId}`,
    });
    expect(unlinked.body.trace).toEqual({ traceId, from: 'operations queue' });
    expect(untraced.body).not.toHaveProperty('trace');

    // And once Redis has pruned the job, from the trace id its attempt's start left in the history.
    await (await fixture.queues.operations.getJob(jobId))?.remove();
    const pruned = await call(`/api/console/jobs/${jobId}`, { on: traced });
    expect(pruned.body.trace).toEqual({
      traceId,
      from: 'job history',
      url: `http://jaeger.example:16686/trace/${traceId}`,
    });
  });

  it('gives a read-only login (BOARD_READONLY_USERNAME) no token and 403 from every action, beside a login that acts', async () => {
    // Arrange: one board, two logins.
    const viewer = { username: 'viewer', password: 'viewer-secret' };
    const both = await fixture.startBoard({
      BOARD_USERNAME: credentials.username,
      BOARD_PASSWORD: credentials.password,
      BOARD_READONLY_USERNAME: viewer.username,
      BOARD_READONLY_PASSWORD: viewer.password,
    });
    const as = (login: { username: string; password: string }, path: string, init: RequestInit = {}) =>
      fetch(`${both.origin}${path}`, {
        ...init,
        headers: {
          authorization: `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`,
          'content-type': 'application/json',
          ...(init.headers as Record<string, string> | undefined),
        },
      });
    const plan = JSON.stringify({ action: 'redrive', where: { op: 'create-user' } });

    // Act
    const viewerSession = (await (await as(viewer, '/api/console/session')).json()) as Record<string, unknown>;
    const operatorSession = (await (await as(credentials, '/api/console/session')).json()) as Record<string, unknown>;
    const token = String(operatorSession.csrfToken);
    const viewerPlan = await as(viewer, '/api/console/dlq/plan', {
      method: 'POST',
      body: plan,
      headers: { 'x-csrf-token': token },
    });
    const viewerRedrive = await as(viewer, '/api/dlq/redrive', {
      method: 'POST',
      body: JSON.stringify({ jobIds: ['x'] }),
    });
    const operatorPlan = await as(credentials, '/api/console/dlq/plan', {
      method: 'POST',
      body: plan,
      headers: { 'x-csrf-token': token },
    });
    const viewerSearch = await as(viewer, `/api/console/jobs?userId=${user}`);
    const stranger = await as({ username: 'viewer', password: credentials.password }, '/api/console/session');

    // Assert
    expect(viewerSession).toMatchObject({ operator: 'board:viewer', readOnly: true });
    expect(viewerSession).not.toHaveProperty('csrfToken');
    expect(operatorSession).toMatchObject({ operator: 'board:ops', readOnly: false });
    expect(viewerPlan.status).toBe(403);
    expect(((await viewerPlan.json()) as { error: string }).error).toMatch(/viewer is read-only/);
    expect(viewerRedrive.status).toBe(403);
    expect(operatorPlan.status).toBe(200);
    expect(viewerSearch.status).toBe(200);
    expect(stranger.status).toBe(401);
  });

  it('refuses an action without the CSRF token, and every action on a read-only board', async () => {
    const plan = { action: 'redrive', where: { op: 'create-user' } };
    expect((await call('/api/console/dlq/plan', { method: 'POST', json: plan })).status).toBe(403);
    expect((await call('/api/console/dlq/plan', { method: 'POST', json: plan, csrf: 'forged' })).status).toBe(403);
    const { csrfToken } = await session();
    const refused = await call('/api/console/dlq/plan', {
      method: 'POST',
      json: plan,
      csrf: String(csrfToken),
      on: readOnly,
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatch(/read-only/);
  });

  it('runs a bulk redrive only for the count confirmed, with progress, under the operator name', async () => {
    const { csrfToken } = await session();
    const csrf = String(csrfToken);
    const second = await fixture.enqueuePoison();
    await fixture.deadLettered(second);
    const where = { errorClass: 'PoisonPayloadError' };
    const plan = await call('/api/console/dlq/plan', { method: 'POST', json: { action: 'redrive', where }, csrf });
    expect(plan.status).toBe(200);
    expect(plan.body).toMatchObject({ count: 2, warnings: [expect.stringMatching(/not retryable/)] });

    // The same selection from a search's filter (the page's "Redrive these"): the same count.
    const bySearch = await call('/api/console/dlq/plan', {
      method: 'POST',
      json: { action: 'redrive', search: { state: 'dead-lettered', error: 'PoisonPayload' } },
      csrf,
    });
    expect(bySearch.body).toMatchObject({ count: 2 });
    const notDead = await call('/api/console/dlq/plan', {
      method: 'POST',
      json: { action: 'redrive', search: { state: 'completed' } },
      csrf,
    });
    expect(notDead.status).toBe(400);
    const wrong = await call('/api/console/dlq/run', {
      method: 'POST',
      json: { action: 'redrive', where, confirmCount: 3 },
      csrf,
    });
    expect(wrong.status).toBe(409);
    const started = await call('/api/console/dlq/run', {
      method: 'POST',
      json: { action: 'redrive', where, confirmCount: 2, ratePerSecond: 20 },
      csrf,
    });
    expect(started.status).toBe(202);
    const finished = await waitFor('the action to finish', async () => {
      const state = (await call(`/api/console/dlq/actions/${started.body.id}`)).body;
      return state.finished ? state : undefined;
    });
    expect(finished).toMatchObject({
      total: 2,
      done: 2,
      by: 'board:ops',
      status: 'finished',
      ratePerSecond: 20,
      counts: { done: 2, notFound: 0, movedOn: 0, busy: 0 },
    });
    const record = await fixture.resources.stores.jobs.get(second);
    expect(record?.marks.filter((m) => m.outcome === 'redriven').map((m) => m.by)).toEqual(['board:ops']);
    await fixture.deadLettered(second, 2);
    await fixture.deadLettered(fixture.poisonJobId, 2);
  });

  it('resumes a cancelled action from the list, leaving alone the jobs it redrove (back in the DLQ since)', async () => {
    // Arrange: three poison jobs about one user, at the board's DLQ_ACTION_RATE_PER_SEC of 0.1 a
    // second, so the cancel lands in the ten seconds after the first job.
    const slow = await fixture.startBoard({
      BOARD_USERNAME: credentials.username,
      BOARD_PASSWORD: credentials.password,
      DLQ_ACTION_RATE_PER_SEC: 0.1,
    });
    const csrf = String((await session(slow)).csrfToken);
    const owner = randomUUID();
    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const jobId = randomUUID();
      await fixture.queues.operations.add(
        'create-user',
        { user: { id: owner, name: i } },
        {
          ...operationJobOptions(fixture.config),
          jobId,
        },
      );
      jobs.push(jobId);
    }
    for (const jobId of jobs) await fixture.deadLettered(jobId);
    const where = { user: owner, gen: 1 };
    expect(
      (await call('/api/console/dlq/plan', { method: 'POST', json: { action: 'redrive', where }, csrf, on: slow }))
        .body,
    ).toMatchObject({ count: 3 });

    // Act: run, cancel after the first job, let it dead-letter again, resume from the list.
    const started = await call('/api/console/dlq/run', {
      method: 'POST',
      json: { action: 'redrive', where, confirmCount: 3 },
      csrf,
      on: slow,
    });
    expect(started.body).toMatchObject({ ratePerSecond: 0.1, status: 'running' });
    const id = String(started.body.id);
    await waitFor(
      'the first job redriven',
      async () => (await call(`/api/console/dlq/actions/${id}`, { on: slow })).body.done === 1,
    );
    expect(
      (await call(`/api/console/dlq/actions/${id}/cancel`, { method: 'POST', json: {}, csrf, on: slow })).status,
    ).toBe(200);
    const cancelled = await waitFor('the cancel', async () => {
      const state = (await call(`/api/console/dlq/actions/${id}`, { on: slow })).body;
      return state.finished ? state : undefined;
    });
    const gens = await Promise.all(jobs.map(async (j) => (await fixture.resources.stores.jobs.get(j))?.gen));
    const redriven = jobs.filter((_, i) => gens[i] === 2);
    for (const jobId of redriven) await fixture.deadLettered(jobId, 2);
    const listed = (await call('/api/console/dlq/actions', { on: slow })).body.actions as {
      id: string;
      status: string;
    }[];
    const noToken = await call(`/api/console/dlq/actions/${id}/resume`, { method: 'POST', json: {}, on: slow });
    const resumed = await call(`/api/console/dlq/actions/${id}/resume`, {
      method: 'POST',
      json: { ratePerSecond: 50 },
      csrf,
      on: slow,
    });
    const finished = await waitFor('the resumed action to finish', async () => {
      const state = (await call(`/api/console/dlq/actions/${id}`, { on: slow })).body;
      return state.finished ? state : undefined;
    });

    // Assert
    expect(redriven).toHaveLength(1);
    expect(cancelled).toMatchObject({ status: 'cancelled', done: 1, total: 3 });
    expect(listed.find((a) => a.id === id)).toMatchObject({ status: 'cancelled' });
    expect(noToken.status).toBe(403);
    expect(resumed.status).toBe(202);
    expect(finished).toMatchObject({ status: 'finished', done: 3, counts: { done: 3, movedOn: 0 } });
    for (const jobId of jobs) {
      const record = await fixture.resources.stores.jobs.get(jobId);
      expect(
        record?.marks.filter((m) => m.outcome === 'redriven'),
        jobId,
      ).toHaveLength(1);
    }
    expect((await call('/api/console/dlq/actions/no-such-action')).status).toBe(404);
  });
});
