// The operator console's pure parts: attempts numbered across redrives, DLQ selection, the chart's
// escaping, the CLI's time flags, and the in-memory store's job queries (the same contract as the
// DynamoDB indexes, which test/integration/job-indexes.test.ts checks on dynalite).
import { describe, expect, it } from 'vitest';
import { traceUrl } from '../../board/console-routes.js';
import { barChart } from '../../board/console-svg.js';
import { parseTime } from '../../cli/commands/find.js';
import type { DeadLetterEntry } from '../../shared/lifecycle/dead-letter.js';
import type { HistoryEntry } from '../../shared/lifecycle/history-entry.js';
import { matchesWhere } from '../../shared/operator/dlq-bulk.js';
import { attemptsOf, jobTimeline, numberAttempts } from '../../shared/operator/job-timeline.js';
import { usersOf } from '../../shared/store/job-index.js';
import { createMemoryStores, MemoryJobRecords } from '../../shared/store/memory-stores.js';
import { traceIdOf } from '../../shared/telemetry/tracing.js';

describe('attempts', () => {
  it('are numbered across redrives: BullMQ starts each generation at 1 again', () => {
    const numbered = numberAttempts([{ attempt: 1 }, { attempt: 2 }, { attempt: 1 }, { attempt: 1 }]);
    expect(numbered.map((a) => [a.n, a.gen, a.attempt])).toEqual([
      [1, 1, 1],
      [2, 1, 2],
      [3, 2, 1],
      [4, 3, 1],
    ]);
  });

  it('pair each start with its end, with the duration, generation by generation', () => {
    const base = { jobId: 'j', op: 'get-user' };
    const entries: HistoryEntry[] = [
      { ...base, type: 'attempt-started', attempt: 1, at: '2026-01-01T00:00:00.000Z' },
      {
        ...base,
        type: 'attempt-failed',
        attempt: 1,
        at: '2026-01-01T00:00:00.250Z',
        errorClass: 'Throttled',
        message: 'slow down',
        retryable: true,
      },
      { ...base, type: 'dead-lettered', reason: 'x', attempts: 1, at: '2026-01-01T00:00:01.000Z' },
      { ...base, type: 'redriven', at: '2026-01-01T00:01:00.000Z' },
      { ...base, type: 'attempt-started', attempt: 1, at: '2026-01-01T00:01:01.000Z' },
      {
        ...base,
        type: 'completed',
        attempt: 1,
        at: '2026-01-01T00:01:01.040Z',
        durationMs: 38,
        capacityUnits: 1,
        result: 'ok',
      },
    ];
    expect(attemptsOf(entries).map((a) => [a.n, a.gen, a.attempt, a.outcome, a.durationMs, a.errorClass])).toEqual([
      [1, 1, 1, 'failed', 250, 'Throttled'],
      [2, 2, 1, 'completed', 38, undefined],
    ]);
  });
});

describe('a DLQ selection', () => {
  const entry = {
    jobId: 'a',
    name: 'create-user',
    reason: 'PoisonPayloadError: invalid create-user payload',
    attempts: [{ attempt: 1, errorClass: 'PoisonPayloadError', message: 'm', retryable: false, at: '' }],
    deadLetteredAt: '2026-01-01T00:10:00.000Z',
  } as DeadLetterEntry;

  it.each([
    [{}, true],
    [{ reason: 'INVALID create' }, true],
    [{ reason: 'throttled' }, false],
    [{ errorClass: 'poisonpayloaderror' }, true],
    [{ errorClass: 'Poison' }, false],
    [{ op: 'create-user' }, true],
    [{ op: 'get-user' }, false],
    [{ from: '2026-01-01T00:10:00.000Z' }, true],
    [{ from: '2026-01-01T00:10:00.001Z' }, false],
    [{ to: '2026-01-01T00:09:59.999Z' }, false],
    [{ jobIds: ['b'] }, false],
  ])('%j matches: %s', (where, expected) => {
    expect(matchesWhere(entry, where)).toBe(expected);
  });
});

describe('the charts', () => {
  it('escape the text they draw', () => {
    const svg = barChart('<b>&', ['2026-01-01T00:00:00.000Z'], [3], '#000');
    expect(svg).toContain('&lt;b&gt;&amp; per minute (total 3)');
    expect(svg).not.toContain('<b>');
  });
});

describe('djq time flags', () => {
  it('take an ISO time or a duration back from now', () => {
    const now = Date.parse('2026-01-01T12:00:00.000Z');
    expect(parseTime('--from', '15m', now)).toBe('2026-01-01T11:45:00.000Z');
    expect(parseTime('--from', '2d', now)).toBe('2025-12-30T12:00:00.000Z');
    expect(parseTime('--to', '2026-01-01T10:00:00Z', now)).toBe('2026-01-01T10:00:00.000Z');
    expect(() => parseTime('--from', 'yesterday', now)).toThrow(/ISO time or a duration/);
  });
});

describe('the users a job touches', () => {
  it('are read from valid payloads, and from invalid ones that still name a user', () => {
    expect(usersOf('get-user', { userId: 'u1' })).toEqual(['u1']);
    expect(usersOf('create-user', { user: { id: 'u2', name: 42 } })).toEqual(['u2']);
    expect(usersOf('query-by-department', { department: 'HR' })).toEqual([]);
  });
});

describe('the in-memory job queries', () => {
  it('page by user and by state like the indexes do', async () => {
    const store = new MemoryJobRecords();
    for (const id of ['j1', 'j2', 'j3']) await store.accept([{ id, name: 'get-user', data: { userId: 'u' } }]);
    await store.decide('j2', 'dead-lettered', 'w', { op: undefined, reason: 'PoisonPayloadError: x' });
    const first = await store.queryJobs({ by: { user: 'u' }, limit: 2, order: 'oldest' });
    const rest = await store.queryJobs({
      by: { user: 'u' },
      limit: 2,
      order: 'oldest',
      ...(first.cursor ? { cursor: first.cursor } : {}),
    });
    expect([...first.jobs, ...rest.jobs].map((j) => j.jobId).sort()).toEqual(['j1', 'j2', 'j3']);
    expect(rest.cursor).toBeUndefined();
    expect((await store.queryJobs({ by: { state: 'dead-lettered' }, limit: 10 })).jobs.map((j) => j.jobId)).toEqual([
      'j2',
    ]);
    // By operation, like the by-operation index.
    await store.accept([{ id: 'j4', name: 'update-user', data: { userId: 'u', changes: { age: 3 } } }]);
    await store.decide('j4', 'dead-lettered', 'w', { op: 'update-user' });
    const deadOf = async (op: string) =>
      (await store.queryJobs({ by: { state: 'dead-lettered', op }, limit: 10 })).jobs.map((j) => j.jobId);
    // j2's decision named no operation: like DynamoDB's OUTCOME item, it is filed by state only.
    expect([await deadOf('get-user'), await deadOf('update-user')]).toEqual([[], ['j4']]);
  });
});

describe("a job's timeline", () => {
  it('says its history expired when the record outlived it, and not for a job that has none yet', async () => {
    // Arrange: two decided jobs without history, one decided 31 days ago, one now.
    const stores = createMemoryStores();
    await stores.jobs.accept([
      { id: 'old', name: 'get-user', data: { userId: 'u' } },
      { id: 'new', name: 'get-user', data: { userId: 'u' } },
    ]);
    await stores.jobs.decide('old', 'completed', 'w', { op: 'get-user' });
    await stores.jobs.decide('new', 'completed', 'w', { op: 'get-user' });
    const now = Date.now() + 31 * 86_400_000;

    // Act
    const old = await jobTimeline(stores, 'old', { retentionDays: 30, now });
    const recent = await jobTimeline(stores, 'new', { retentionDays: 30 });

    // Assert
    expect(old).toMatchObject({ historyExpired: true, record: { outcome: 'completed' } });
    expect(recent).not.toHaveProperty('historyExpired');
  });
});

describe("a job's trace", () => {
  it("reads the trace id from bullmq-otel's metadata, and nothing else", () => {
    const id = '4bf92f3577b34da6a3ce929d0e0e4736';
    expect(traceIdOf(JSON.stringify({ traceparent: `00-${id}-00f067aa0ba902b7-01` }))).toBe(id);
    expect(traceIdOf(undefined)).toBeUndefined();
    expect(traceIdOf('not json')).toBeUndefined();
    expect(traceIdOf(JSON.stringify({ traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` }))).toBeUndefined();
    expect(traceIdOf(JSON.stringify({ traceparent: '00-"><script>-x-01' }))).toBeUndefined();
  });

  it("links to Jaeger's trace page under the configured base", () => {
    expect(traceUrl('http://127.0.0.1:16686/', 'ab')).toBe('http://127.0.0.1:16686/trace/ab');
    expect(traceUrl('https://ops.example/jaeger', 'ab')).toBe('https://ops.example/jaeger/trace/ab');
  });
});
