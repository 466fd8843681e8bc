// djq as operators run it (a real child process) against a real pipeline: history, the DLQ
// commands, replay --verify/--rebuild on a corrupted projection, check, and bad usage.
import { userInfo } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../shared/dynamo/table.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { DlqActionStore } from '../../shared/operator/dlq-actions.js';
import { newUser, usePipeline, waitFor } from '../helpers/pipeline.js';
import { startService } from '../helpers/processes.js';
import { freePort } from '../helpers/services.js';
import { testEnv } from '../helpers/stack.js';

// No injected faults: the update of a missing user is retried (and dead-lettered) by itself, deterministically.
const env = testEnv({ JOB_ATTEMPTS: 3 });
const pipeline = usePipeline(env);
const user = newUser();
const ids: Record<string, string> = {};
const missingUser = newUser().id;

async function djq(...args: string[]) {
  const cli = startService('cli/djq.ts', env.env, args);
  const { code } = await cli.exited;
  const output = cli.output();
  let json: unknown;
  try {
    json = JSON.parse(output);
  } catch {
    json = undefined;
  }
  return { code, output, json: json as Record<string, unknown> };
}

beforeAll(async () => {
  const { producer, worker } = pipeline;
  ids.create = await producer.enqueue('create-user', { user });
  ids.poison = await producer.enqueue('create-user', { user: { name: 42 } });
  ids.missing = await producer.enqueue('update-user', { userId: missingUser, changes: { age: 1 } });
  await waitFor('jobs to finish', async () => {
    const outcomes = await producer.decided.of([ids.create, ids.poison, ids.missing] as string[]);
    return outcomes.size === 3;
  });
  await worker.service.system.history.flush();
});

describe('djq', () => {
  it('history shows every attempt of a retried job', async () => {
    const { code, json } = await djq('history', ids.missing as string, '--json');
    expect(code).toBe(0);
    const entries = json.entries as unknown as { type: string; attempt?: number }[];
    expect(entries.filter((e) => e.type === 'attempt-started').map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(entries.filter((e) => e.type === 'attempt-failed')).toHaveLength(3);
    expect(json.status).toBe('dead-lettered');
    expect(entries[0]?.type).toBe('enqueued');
    expect(entries.at(-1)?.type).toBe('dead-lettered');
    // Every JSON output names where it acted.
    expect(json.target).toMatchObject({ table: env.config.DYNAMODB_TABLE_NAME, source: 'the environment' });
  });

  it("history --json gives a completed job's result as an object, not a string inside JSON", async () => {
    const { code, json } = await djq('history', ids.create as string, '--json');
    expect(code).toBe(0);
    const completed = (json.entries as unknown as { type: string; result?: unknown }[]).find(
      (e) => e.type === 'completed',
    );
    expect(completed?.result).toMatchObject({ op: 'create-user', userId: user.id });
  });

  it('stats counts queues, the DLQ, and (with --exact) events and users', async () => {
    const { code, json } = await djq('stats', '--json');
    expect(code).toBe(0);
    expect(json).toMatchObject({
      deadLetter: 2,
      table: { approximate: true, note: expect.stringContaining('approximate') },
    });
    expect(json).not.toHaveProperty('events'); // no full-table scan unless asked
    // Nothing throttled in this run: flow control has set no limit.
    expect(json).toMatchObject({ flow: [{ rate: null, heldBack: false }] });
    const exact = await djq('stats', '--exact', '--json');
    expect(exact.json).toMatchObject({ deadLetter: 2, events: 1, users: 1 });

    // The text: a two-column table, then the notes as sentences, not squeezed into the columns.
    const text = await djq('stats');
    const lines = text.output.trimEnd().split('\n');
    expect(lines).toContainEqual(
      expect.stringMatching(/^table items \(approx\.\) +0 \(not counted yet: --exact scans\)$/),
    );
    expect(lines.at(-2)).toMatch(/^\(approx\.\): approximate: DynamoDB refreshes ItemCount about every six hours/);
    expect(lines.at(-1)).toBe('From the environment.');
    expect(lines.filter((l) => /^\((approx\.|from) /.test(l))).toEqual([]);
  });

  it('find filters jobs and pages them', async () => {
    const found = await djq('find', '--state', 'dead-lettered', '--error', 'poisonpayload', '--json');
    expect(found.code).toBe(0);
    expect((found.json.jobs as { jobId: string }[]).map((j) => j.jobId)).toEqual([ids.poison]);
    // Two create-user jobs: one page of one, then the other, then no cursor.
    const first = await djq('find', '--op', 'create-user', '--limit', '1', '--json');
    expect(first.json.jobs).toHaveLength(1);
    expect(first.json.cursor).toEqual(expect.any(String));
    const second = await djq(
      'find',
      '--op',
      'create-user',
      '--limit',
      '1',
      '--cursor',
      String(first.json.cursor),
      '--json',
    );
    const both = [...(first.json.jobs as { jobId: string }[]), ...(second.json.jobs as { jobId: string }[])];
    expect(both.map((j) => j.jobId).sort()).toEqual([ids.create, ids.poison].sort());
    expect(second.json.cursor).toBeUndefined();
    expect((await djq('find', '--from', '1h', '--json')).json.jobs).toHaveLength(3);
    expect((await djq('find', '--state', 'sleeping')).code).toBe(2);
  });

  it('history --user lists every job that touched the user, with the event each wrote', async () => {
    const { code, json, output } = await djq('history', '--user', user.id, '--json');
    expect(code).toBe(0);
    expect(json).toMatchObject({
      userId: user.id,
      projectionVersion: 1,
      jobs: [{ jobId: ids.create, eventVersion: 1 }],
    });
    expect(output).not.toContain(ids.missing);
    expect((await djq('history', '--user', user.id)).output).toMatch(
      new RegExp(`${ids.create}\\s+create-user\\s+completed\\s+1\\s+v1`),
    );
  });

  it('dlq redrive by filter: a dry run counts, groups and warns, and changes nothing', async () => {
    const dry = await djq('dlq', 'redrive', '--error-class', 'PoisonPayloadError', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(dry.json).toMatchObject({
      dryRun: true,
      count: 1,
      jobIds: [ids.poison],
      reasons: [{ errorClass: 'PoisonPayloadError', count: 1, retryable: false }],
      warnings: [expect.stringMatching(/not retryable/)],
    });
    const text = await djq('dlq', 'redrive', '--op', 'create-user', '--dry-run');
    expect(text.output).toMatch(/warning: 1 job\(s\) failed with PoisonPayloadError/);
    expect(text.output).toMatch(/Dry run: 1 job\(s\) would be redriven/);
    expect(await pipeline.producer.queues.deadLetter.getWaitingCount()).toBe(2);
    expect((await djq('dlq', 'purge', '--op', 'create-user')).code).toBe(2); // by filter needs --yes too
  });

  it('dlq redrive --user and --gen select from the job records', async () => {
    const dry = await djq('dlq', 'redrive', '--user', missingUser, '--gen', '1', '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(dry.json).toMatchObject({ count: 1, jobIds: [ids.missing], jobs: [{ jobId: ids.missing, gen: 1 }] });
    const none = await djq('dlq', 'redrive', '--user', missingUser, '--gen', '2', '--dry-run', '--json');
    expect(none.json).toMatchObject({ count: 0 });
    const bad = await djq('dlq', 'redrive', '--gen', 'first', '--dry-run');
    expect(bad.code).toBe(2);
    expect(bad.output).toMatch(/--gen must be a generation/);
  });

  it('dlq redrive --resume runs a kept action once: run again, it skips what it did; a stale plan finds the job moved on', async () => {
    // Arrange: an action kept as the board keeps one before running it, and a second with the same plan.
    const store = new DlqActionStore(pipeline.resources.redis, pipeline.producer.system.keys);
    const plan = {
      action: 'redrive' as const,
      where: { user: missingUser },
      jobs: [{ jobId: ids.missing as string, gen: 1 }],
      by: 'test',
      createdAt: new Date().toISOString(),
      ratePerSecond: 10,
    };
    const [id, stale] = [await store.create(plan), await store.create(plan)];

    // Act
    const wrongVerb = await djq('dlq', 'purge', '--resume', id);
    const first = await djq('dlq', 'redrive', '--resume', id, '--json');
    await waitFor('the job dead-lettered again', async () => {
      const record = await pipeline.resources.stores.jobs.get(ids.missing as string);
      return (
        record?.gen === 2 &&
        record.outcome === 'dead-lettered' &&
        (await pipeline.producer.queues.deadLetter.getJob(ids.missing as string))
      );
    });
    const again = await djq('dlq', 'redrive', '--resume', id, '--json');
    const movedOn = await djq('dlq', 'redrive', '--resume', stale, '--json');
    const listed = await djq('dlq', 'actions', '--json');

    // Assert
    expect(wrongVerb.code).toBe(2);
    expect(first.json).toMatchObject({ actionId: id, redriven: [ids.missing], resumed: 0, cancelled: false });
    expect(again.json).toMatchObject({ redriven: [ids.missing], movedOn: [], resumed: 1 });
    expect(movedOn.json).toMatchObject({ redriven: [], movedOn: [ids.missing] });
    expect((listed.json.actions as { id: string; status: string }[]).filter((a) => a.id === id)).toEqual([
      expect.objectContaining({ status: 'finished', settled: 1, total: 1 }),
    ]);
    const record = await pipeline.resources.stores.jobs.get(ids.missing as string);
    expect(record?.marks.filter((m) => m.outcome === 'redriven')).toHaveLength(1);
    expect((await djq('dlq', 'redrive', '--resume', 'no-such-action')).code).toBe(2);
  });

  it('migrate on a current table changes no schema and says so', async () => {
    const { code, json } = await djq('migrate', '--json');
    expect(code).toBe(0);
    expect(json).toMatchObject({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, indexesAdded: [] });
  });

  it('dlq list, show, redrive and purge', async () => {
    const list = await djq('dlq', 'list', '--json');
    expect(list.json.count).toBe(2);
    expect((list.json.entries as { jobId: string }[]).map((e) => e.jobId).sort()).toEqual(
      [ids.missing, ids.poison].sort(),
    );
    const filtered = await djq('dlq', 'list', '--reason', 'invalid create-user', '--json');
    expect((filtered.json.entries as unknown[]).length).toBe(1);

    const show = await djq('dlq', 'show', ids.poison as string);
    expect(show.code).toBe(0);
    expect(show.output).toMatch(/PoisonPayloadError/);

    // The poison job comes back with one more attempt.
    const redrive = await djq('dlq', 'redrive', ids.poison as string, '--json');
    expect(redrive.json).toMatchObject({ redriven: [ids.poison] });
    const back = await waitFor('the poison job back in the DLQ', async () => {
      const entry = await pipeline.producer.queues.deadLetter.getJob(ids.poison as string);
      return entry?.data.attemptsMade === 2 ? entry : undefined;
    });
    expect(back.data.redrives).toBe(1);
    // The redrive is in the job's history, by djq, between the two dead-letterings.
    await pipeline.worker.service.system.history.flush();
    const timeline = await djq('history', ids.poison as string, '--json');
    const types = (timeline.json.entries as unknown as { type: string; workerId?: string }[]).map((e) => e.type);
    expect(types.filter((t) => t === 'dead-lettered' || t === 'redriven')).toEqual([
      'dead-lettered',
      'redriven',
      'dead-lettered',
    ]);
    // Who redrove it: the CLI records the OS user, in the history and in DynamoDB's record.
    const operator = `djq:${userInfo().username}`;
    const text = (await djq('history', ids.poison as string)).output;
    expect(text).toContain(`redriven from the dead-letter queue [${operator}]`);
    expect(text).toContain(`DynamoDB: generation 1 closed by a redrive by ${operator}`);
    expect(text).toMatch(/#2 \(generation 2, attempt 1\) failed \d+ ms: PoisonPayloadError/);
    // dlq show numbers the attempts across the redrive (both were BullMQ's attempt 1).
    const shown = await djq('dlq', 'show', ids.poison as string);
    expect(shown.output).toMatch(/#1 \(generation 1, attempt 1\)/);
    expect(shown.output).toMatch(/#2 \(generation 2, attempt 1\)/);

    expect((await djq('dlq', 'purge', '--all')).code).toBe(2); // needs --yes
    const purge = await djq('dlq', 'purge', '--all', '--yes', '--json');
    expect((purge.json.purged as string[]).sort()).toEqual([ids.missing, ids.poison].sort());
    expect(await pipeline.producer.queues.deadLetter.getWaitingCount()).toBe(0);
    const purged = await djq('history', ids.poison as string, '--json');
    expect(purged.json.status).toBe('purged');
  });

  it('replay --verify catches a corrupted projection and --rebuild fixes it', async () => {
    expect((await djq('replay', '--verify')).code).toBe(0);
    const state = await pipeline.resources.stores.users.getHead(user.id);
    await pipeline.resources.stores.users.overwrite(user.id, { ...state!, user: { ...state!.user!, age: 999 } });
    const broken = await djq('replay', '--verify', '--json');
    expect(broken.code).toBe(1);
    expect(broken.json).toMatchObject({ aggregates: 1, matching: 0, mismatches: [{ userId: user.id }] });
    // The test's worker is live: the rebuild refuses, says what it would do, and changes nothing.
    const refused = await djq('replay', '--rebuild');
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(
      /would rewrite every user row of table .* worker connection\(s\) are live on queue ops/,
    );
    expect(refused.output).toMatch(/add --force to rebuild anyway. Nothing was changed/);
    expect((await pipeline.resources.stores.users.getUser(user.id))?.age).toBe(999);
    const rebuilt = await djq('replay', '--rebuild', '--force', '--json');
    expect(rebuilt.json).toMatchObject({ aggregates: 1, written: 1 });
    expect(rebuilt.json.liveWorkers).toBeGreaterThan(0);
    expect((await djq('replay', '--verify')).code).toBe(0);
    expect((await pipeline.resources.stores.users.getUser(user.id))?.age).toBe(user.age);
  });

  it('says where it acts first, on stderr (in --json, under target)', async () => {
    const { output } = await djq('check');
    expect(output.split('\n')[0]).toBe(
      `djq: table ${env.config.DYNAMODB_TABLE_NAME} at ${env.config.AWS_ENDPOINT_URL_DYNAMODB}, Redis ${env.config.REDIS_URL} (from the environment)`,
    );
  });

  it('check reads the ledger and passes', async () => {
    const { code, json } = await djq('check', '--json');
    expect(json).toMatchObject({
      enqueued: 3,
      completed: 1,
      purged: 2,
      lost: 0,
      duplicated: 0,
      projectionMismatches: 0,
    });
    expect(code).toBe(0);
  });

  it('bad usage and bad configuration exit 2 with one clear message', async () => {
    const unknown = await djq('explode');
    expect(unknown.code).toBe(2);
    expect(unknown.output).toMatch(/unknown command "explode"/);
    const typo = await djq('stat');
    expect(typo.output).toMatch(/unknown command "stat": did you mean "stats"\?/);
    expect((await djq('replay')).code).toBe(2);
    const bogus = await djq('stats', '--bogus');
    expect(bogus.code).toBe(2);
    expect(bogus.output).toMatch(/unknown option --bogus/);
    const near = await djq('stats', '--exatc');
    expect(near.code).toBe(2);
    expect(near.output).toMatch(/unknown option --exatc: did you mean --exact\?/);
    const rebuld = await djq('replay', '--rebuld');
    expect(rebuld.output).toMatch(/did you mean --rebuild\?/);
    const foreign = await djq('stats', '--all');
    expect(foreign.code).toBe(2);
    expect(foreign.output).toMatch(/djq stats does not take --all/);
    expect((await djq('replay', '--verify', '--force')).output).toMatch(/--force goes with replay --rebuild/);
    const badConfig = startService('cli/djq.ts', { ...env.env, WORKER_CONCURRENCY: 'many' }, ['stats']);
    expect((await badConfig.exited).code).toBe(2);
    expect(badConfig.output()).toMatch(/WORKER_CONCURRENCY="many": expected a whole number/);
  });
});

describe('djq help', () => {
  it.each(['stats', 'history', 'dlq', 'replay', 'check'])(
    'djq %s --help: its options and an example, exit 0',
    async (command) => {
      for (const args of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const { code, output } = await djq(...args);
        expect(code).toBe(0);
        expect(output).toMatch(new RegExp(`^Usage: djq ${command}`));
        expect(output).toMatch(new RegExp(`Examples?:\n  npm run -s djq -- ${command}`));
        expect(output).toMatch(/--json/);
      }
    },
  );

  it('djq --help lists the commands, exit 0; djq alone, exit 2', async () => {
    const help = await djq('--help');
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/djq <command> --help shows a command's options and an example/);
    expect((await djq()).code).toBe(2);
  });
});

describe('worker metrics and health', () => {
  it('serves counters, histograms, /healthz and /readyz', async () => {
    await pipeline.worker.stop(); // so the worker process under test is the one that runs the job
    const port = await freePort();
    const w = startService('worker/main.ts', { ...env.env, METRICS_PORT: String(port) });
    try {
      await waitFor(
        'the worker to listen',
        async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok,
      );
      const jobId = await pipeline.producer.enqueue('get-user', { userId: user.id });
      await waitFor('the job', async () => (await pipeline.producer.outcomeOf(jobId)) === 'completed');
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(await ready.json()).toMatchObject({ ready: true, checks: { redis: 'ok', dynamodb: 'ok' } });
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/djq_jobs_total\{op="get-user",outcome="completed"\} 1/);
      expect(text).toMatch(/djq_dynamodb_call_duration_seconds_bucket\{le="[^"]+",command="GetItemCommand"\}/);
      // 0.5 for the eventually consistent GetItem, plus the history BatchWriteItem's write units.
      const capacity = /djq_dynamodb_consumed_capacity_units_total\{table="[^"]+"\} ([\d.]+)/.exec(text);
      expect(Number(capacity?.[1])).toBeGreaterThanOrEqual(0.5);
      expect(text).toMatch(/process_resident_memory_bytes/);
    } finally {
      w.process.kill('SIGTERM');
      expect((await w.exited).code).toBe(0);
    }
  });
});

describe('djq with Redis and a table of two different runs', () => {
  it('recover and replay refuse, saying why, unless --force; check fails', async () => {
    const key = queueKeys(env.config).epoch;
    const ours = await pipeline.resources.redis.get(key);
    await pipeline.resources.redis.set(key, 'another-run');
    try {
      const recover = await djq('recover', '--dry-run', '--json');
      expect(recover.code).toBe(1);
      expect(recover.output).toMatch(/belong to different runs/);
      expect(recover.output).toMatch(/add --force/);
      expect((await djq('replay', '--verify')).output).toMatch(/belong to different runs/);
      expect((await djq('check', '--json')).code).toBe(1);
      expect((await djq('recover', '--dry-run', '--force', '--json')).code).toBe(0);
    } finally {
      if (ours) await pipeline.resources.redis.set(key, ours);
      else await pipeline.resources.redis.del(key);
    }
  });
});
