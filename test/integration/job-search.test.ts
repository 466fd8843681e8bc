// The operator console's search, timeline, user history, DLQ dry run and bulk redrive, and the
// per-minute counts, against a real pipeline (our worker on Redis and dynalite). One completed job
// is removed from Redis first: the search must still find it, from DynamoDB's records.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { readMinuteSeries } from '../../shared/lifecycle/minute-series.js';
import { DlqActionStore } from '../../shared/operator/dlq-actions.js';
import { OperatorConsole } from '../../shared/operator/operator-console.js';
import { newUser, pruneFromRedis, usePipeline, waitFor, waitForDeadLettered } from '../helpers/pipeline.js';
import { testEnv } from '../helpers/stack.js';

const env = testEnv({ JOB_ATTEMPTS: 2 });
const pipeline = usePipeline(env);
let operator: OperatorConsole;
const user = newUser();
const ids: Record<'create' | 'update' | 'poison' | 'missing', string> = {
  create: randomUUID(),
  update: randomUUID(),
  poison: randomUUID(),
  missing: randomUUID(),
};

const outcomeOf = async (jobId: string) => (await pipeline.resources.stores.jobs.get(jobId))?.outcome;

beforeAll(async () => {
  const { resources, producer, worker } = pipeline;
  operator = new OperatorConsole({
    stores: resources.stores,
    queues: [producer.queues],
    dlq: producer.system.console,
    actions: new DlqActionStore(resources.redis, producer.system.keys),
    activity: (minutes, now) => readMinuteSeries(resources.redis, [producer.system.keys], minutes, now),
    historyRetentionDays: env.config.HISTORY_RETENTION_DAYS,
  });
  await producer.enqueue('create-user', { user }, ids.create);
  await waitFor('the create', async () => (await outcomeOf(ids.create)) === 'completed');
  await producer.enqueue('update-user', { userId: user.id, changes: { age: 50 } }, ids.update);
  // A poison job about the same user (its payload is invalid, but names the user).
  await producer.enqueue('create-user', { user: { id: user.id, name: 42 } }, ids.poison);
  // Retryable, then dead-lettered after JOB_ATTEMPTS: the user does not exist.
  await producer.enqueue('update-user', { userId: randomUUID(), changes: { age: 1 } }, ids.missing);
  await waitFor('every job decided', async () => {
    const outcomes = await Promise.all([ids.update, ids.poison, ids.missing].map(outcomeOf));
    return outcomes.every((o) => o !== undefined);
  });
  await worker.service.system.history.flush();
  // Pruned from Redis, as removeOnComplete does to old jobs.
  await pruneFromRedis(producer.queues.operations, ids.create);
});

describe('search', () => {
  it('finds every job that touched a user, in order, the one Redis pruned included', async () => {
    expect(await pipeline.producer.queues.operations.getJob(ids.create)).toBeUndefined();
    const jobs = await operator.userJobs(user.id);
    expect(jobs.map((j) => j.jobId)).toEqual([ids.create, ids.update, ids.poison]);
    expect(jobs.map((j) => [j.state, j.eventVersion])).toEqual([
      ['completed', 1],
      ['completed', 2],
      ['dead-lettered', undefined],
    ]);
  });

  it('filters by state, error text, operation and generation', async () => {
    const dead = await operator.search({ state: 'dead-lettered' });
    expect(dead.jobs.map((j) => j.jobId).sort()).toEqual([ids.poison, ids.missing].sort());
    const poison = await operator.search({ state: 'dead-lettered', error: 'poisonpayload' });
    expect(poison.jobs.map((j) => j.jobId)).toEqual([ids.poison]);
    expect(poison.jobs[0]?.reason).toMatch(/^PoisonPayloadError/);
    // The reason holds the message only: the error class is found in the attempts' history.
    const byClass = await operator.search({ error: 'UserNotFoundError' });
    expect(byClass.jobs.map((j) => j.jobId)).toEqual([ids.missing]);
    const updates = await operator.search({ op: 'update-user' });
    expect(updates.jobs.map((j) => j.jobId).sort()).toEqual([ids.update, ids.missing].sort());
    expect((await operator.search({ op: 'update-user', gen: 2 })).jobs).toEqual([]);
    expect((await operator.search({ jobId: ids.create })).jobs.map((j) => j.state)).toEqual(['completed']);
    expect((await operator.search({ jobId: ids.create, state: 'dead-lettered' })).jobs).toEqual([]);
  });

  it('pages with a cursor, neither skipping nor repeating', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await operator.search({}, { limit: 1, ...(cursor ? { cursor } : {}) });
      seen.push(...page.jobs.map((j) => j.jobId));
      cursor = page.cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toHaveLength(4);
    expect(new Set(seen)).toEqual(new Set(Object.values(ids)));
    expect(seen).toEqual((await operator.search({}, { limit: 10 })).jobs.map((j) => j.jobId));
  });

  it('limits by time range', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await operator.search({ from: future })).jobs).toEqual([]);
    expect((await operator.search({ to: future })).jobs).toHaveLength(4);
  });
});

describe('a job timeline', () => {
  it('shows the effect in DynamoDB: the event written and the projection version', async () => {
    const timeline = await operator.timeline(ids.create);
    expect(timeline?.effect).toEqual([
      {
        userId: user.id,
        event: { version: 1, type: 'UserCreated', applied: true },
        projectionVersion: 2,
        deleted: false,
      },
    ]);
    expect(timeline?.attempts).toMatchObject([{ n: 1, gen: 1, attempt: 1, outcome: 'completed' }]);
  });

  it('numbers attempts across a redrive, and names who redrove it', async () => {
    const plan = await operator.planDlq('redrive', { jobIds: [ids.missing] });
    expect(plan.count).toBe(1);
    expect(plan.jobs).toEqual([{ jobId: ids.missing, gen: 1 }]);
    const report = await operator.runDlq(plan, { by: 'test' });
    expect(report.done).toEqual([ids.missing]);
    await waitFor('the redriven job dead-lettered again', async () => {
      const record = await pipeline.resources.stores.jobs.get(ids.missing);
      return record?.gen === 2 && record.outcome === 'dead-lettered';
    });
    await pipeline.worker.service.system.history.flush();
    await pipeline.producer.system.history.flush();
    const timeline = await operator.timeline(ids.missing);
    expect(timeline?.attempts.map((a) => [a.n, a.gen, a.attempt, a.outcome, a.errorClass])).toEqual([
      [1, 1, 1, 'failed', 'UserNotFoundError'],
      [2, 1, 2, 'failed', 'UserNotFoundError'],
      [3, 2, 1, 'failed', 'UserNotFoundError'],
      [4, 2, 2, 'failed', 'UserNotFoundError'],
    ]);
    expect(timeline?.attempts.every((a) => typeof a.durationMs === 'number')).toBe(true);
    const marks = timeline?.items.flatMap((i) =>
      i.kind === 'mark' ? [`${i.gen}:${i.mark.outcome}:${i.mark.by}`] : [],
    );
    expect(marks).toEqual([
      expect.stringMatching(/^1:dead-lettered:/),
      '1:redriven:test',
      expect.stringMatching(/^2:dead-lettered:/),
    ]);
    expect(timeline?.items.some((i) => i.kind === 'history' && i.entry.type === 'dead-lettered')).toBe(true);
  });
});

describe('the DLQ, safely', () => {
  it('a dry run counts, samples, groups reasons and warns about the ones that fail again', async () => {
    const plan = await operator.planDlq('redrive', { op: 'create-user' });
    expect(plan).toMatchObject({ count: 1, jobIds: [ids.poison] });
    expect(plan.reasons).toEqual([
      expect.objectContaining({ errorClass: 'PoisonPayloadError', count: 1, retryable: false }),
    ]);
    expect(plan.warnings).toEqual([
      expect.stringMatching(/1 job\(s\) failed with PoisonPayloadError.*will fail the same way/),
    ]);
    expect(await outcomeOf(ids.poison)).toBe('dead-lettered'); // a dry run changes nothing
  });

  it('a bulk redrive reports progress, and its plan run again later leaves the job alone: its generation moved on', async () => {
    const plan = await operator.planDlq('redrive', { errorClass: 'PoisonPayloadError' });
    const progress: number[] = [];
    const report = await operator.runDlq(plan, {
      by: 'test',
      ratePerSecond: 50,
      onProgress: (p) => progress.push(p.done),
    });
    expect(report).toMatchObject({ done: [ids.poison], total: 1, cancelled: false });
    expect(progress).toEqual([1]);
    // The poison job fails again at once and is back in the DLQ, as generation 2: a run of the old
    // plan then must not redrive it (it would, judged by "still in the DLQ" alone).
    await waitFor('the poison job dead-lettered again', async () => {
      const record = await pipeline.resources.stores.jobs.get(ids.poison);
      return (
        record?.gen === 2 &&
        record.outcome === 'dead-lettered' &&
        (await pipeline.producer.system.console.show(ids.poison))
      );
    });
    const again = await operator.runDlq(plan, { by: 'test' });
    expect(again).toMatchObject({ done: [], notFound: [], movedOn: [ids.poison] });
    const record = await pipeline.resources.stores.jobs.get(ids.poison);
    expect(record?.marks.filter((m) => m.outcome === 'redriven')).toHaveLength(1);
  });

  it('a cancelled bulk action stops before the next job', async () => {
    const controller = new AbortController();
    controller.abort();
    const report = await operator.runDlq(
      {
        action: 'purge',
        count: 1,
        jobIds: [ids.missing],
        jobs: [{ jobId: ids.missing, gen: 2 }],
        sample: [],
        reasons: [],
        warnings: [],
      },
      { by: 'test', signal: controller.signal },
    );
    expect(report).toMatchObject({ done: [], cancelled: true });
    expect(await outcomeOf(ids.missing)).toBe('dead-lettered');
  });
});

describe('a resumed bulk action', () => {
  const owner = randomUUID();
  let poison: string[];

  const redrivenMarks = async (jobId: string) =>
    (await pipeline.resources.stores.jobs.get(jobId))?.marks.filter((m) => m.outcome === 'redriven').length;
  const redrivenHistory = async (jobId: string) =>
    (await pipeline.resources.stores.history.list(jobId)).filter((e) => e.type === 'redriven').length;
  /** Dead-lettered as generation `gen` in DynamoDB, and its entry back in the DLQ. */
  const deadLetteredAs = (gen: number, jobIds: readonly string[]) =>
    waitForDeadLettered(pipeline.resources.stores, pipeline.producer.queues.deadLetter, jobIds, gen);

  beforeAll(async () => {
    // Five poison jobs about one user: each fails at once, and again at once after every redrive.
    poison = [];
    for (let i = 0; i < 5; i++)
      poison.push(await pipeline.producer.enqueue('create-user', { user: { id: owner, name: i } }));
    await deadLetteredAs(1, poison);
  });

  it('selects by user and generation from the job records, and names each job with its generation', async () => {
    const plan = await operator.planDlq('redrive', { user: owner, gen: 1 });
    expect(plan.jobIds.sort()).toEqual([...poison].sort());
    expect(plan.jobs.every((j) => j.gen === 1)).toBe(true);
    expect((await operator.planDlq('redrive', { user: owner, gen: 2 })).count).toBe(0);
    expect((await operator.planDlq('redrive', { user: randomUUID() })).count).toBe(0);
  });

  it('cancelled after 2 jobs, whose redriven jobs dead-letter again, then resumed: every job redriven exactly once', async () => {
    // Arrange: the plan, and a run cancelled after its second job (by the abort signal, not by time).
    const plan = await operator.planDlq('redrive', { user: owner });
    const stop = new AbortController();
    const first = await operator.runDlq(plan, {
      by: 'test',
      where: { user: owner },
      ratePerSecond: 1000,
      signal: stop.signal,
      onProgress: ({ done }) => {
        if (done === 2) stop.abort();
      },
    });
    expect(first).toMatchObject({ cancelled: true, total: 5 });
    expect(first.done).toHaveLength(2);
    expect((await operator.dlqAction(first.actionId))?.status).toBe('cancelled');
    // The two redriven poison jobs fail again: back in the DLQ, as generation 2, before the resume.
    await deadLetteredAs(2, first.done);

    // Act: resume the action, then run the old plan again as a new action (a second Ctrl-C'd run).
    const resumed = await operator.resumeDlq(first.actionId, { ratePerSecond: 1000 });
    await deadLetteredAs(2, poison);
    const rerun = await operator.runDlq(plan, { by: 'test', ratePerSecond: 1000 });

    // Assert: the resume did the other three, skipping the two; the re-run found every job moved on.
    expect(resumed).toMatchObject({ cancelled: false, resumed: 2, movedOn: [], notFound: [], busy: [] });
    expect([...resumed.done].sort()).toEqual([...poison].sort());
    expect((await operator.dlqAction(first.actionId))?.status).toBe('finished');
    expect(rerun.done).toEqual([]);
    expect([...rerun.movedOn].sort()).toEqual([...poison].sort());
    await pipeline.producer.system.history.flush();
    for (const jobId of poison) {
      expect(await redrivenMarks(jobId), jobId).toBe(1);
      expect(await redrivenHistory(jobId), jobId).toBe(1);
    }
  });

  it('two runs of one plan at once redrive each job once between them', async () => {
    await deadLetteredAs(2, poison);
    const plan = await operator.planDlq('redrive', { user: owner, gen: 2 });
    const [a, b] = await Promise.all([
      operator.runDlq(plan, { by: 'test', ratePerSecond: 1000 }),
      operator.runDlq(plan, { by: 'test', ratePerSecond: 1000 }),
    ]);
    expect([...a.done, ...b.done].sort()).toEqual([...poison].sort());
    for (const jobId of poison) expect(await redrivenMarks(jobId), jobId).toBe(2);
  });

  it('purges a plan only in the generation it saw: a job redriven since is left alone', async () => {
    await deadLetteredAs(3, poison);
    const stale = await operator.planDlq('purge', { user: owner });
    const [moved, ...rest] = poison as [string, ...string[]];
    await operator.runDlq(await operator.planDlq('redrive', { jobIds: [moved] }), { by: 'test' });
    await deadLetteredAs(4, [moved]);
    const purge = await operator.runDlq(stale, { by: 'test', ratePerSecond: 1000 });
    expect(purge.movedOn).toEqual([moved]);
    expect([...purge.done].sort()).toEqual([...rest].sort());
    expect(await outcomeOf(moved)).toBe('dead-lettered');
  });
});

describe('charts', () => {
  it('count completed and dead-lettered jobs per minute from the records', async () => {
    const series = await operator.outcomesPerMinute(60);
    expect(series.minutes).toHaveLength(60);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(series.counts.completed)).toBe(2);
    expect(sum(series.counts['dead-lettered'])).toBeGreaterThanOrEqual(1);
    expect(series.truncated).toBe(false);
  });
});
