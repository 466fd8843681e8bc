// A hot aggregate: many valid updates of one user, raced by several real BullMQ workers at the
// defaults' concurrency against dynalite. Conflicts must put jobs back, never use up attempts:
// with JOB_ATTEMPTS=1 any conflict treated as a failure would dead-letter its job.
import { afterEach, describe, expect, it } from 'vitest';
import { foldUser, sameHead } from '../../shared/domain/user.js';
import { loadUser, verifyProjection } from '../../shared/operator/replay.js';
import { newUser, openProducerSide, startTestWorker, type TestWorker, waitFor } from '../helpers/pipeline.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const UPDATES = 200;
const WORKERS = 3;

let resources: TestResources | undefined;
let producer: ReturnType<typeof openProducerSide> | undefined;
let workers: TestWorker[] = [];

afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
  await producer?.close();
  await resources?.cleanup();
});

describe('hot aggregate', () => {
  it(`${UPDATES} updates of one user from ${WORKERS} workers × 16: none dead-lettered, each applied once`, async () => {
    const env = testEnv({ JOB_ATTEMPTS: 1, WORKER_CONCURRENCY: 16 });
    resources = await openTestResources(env.config);
    producer = openProducerSide(env.config, resources);
    const user = newUser();
    const create = await producer.enqueue('create-user', { user });
    for (let i = 0; i < WORKERS; i++) workers.push(startTestWorker(env.config));
    await waitFor('the create', async () => producer?.outcomeOf(create));

    const updates: string[] = [];
    for (let i = 0; i < UPDATES; i++) {
      updates.push(await producer.enqueue('update-user', { userId: user.id, changes: { age: 18 + (i % 80) } }));
    }
    const outcomes = await waitFor(
      `${UPDATES} updates to finish`,
      async () => {
        const all = await producer?.decided.of(updates);
        return all?.size === updates.length ? all : undefined;
      },
      120_000,
    );

    expect(updates.filter((id) => outcomes.get(id)?.outcome !== 'completed')).toEqual([]);
    expect(await producer.queues.deadLetter.getWaitingCount()).toBe(0);
    const { head, stream } = await loadUser(resources.stores.events, resources.stores.users, user.id);
    const applied = stream.map((e) => e.jobId);
    expect(applied).toHaveLength(UPDATES + 1);
    expect(new Set(applied)).toEqual(new Set([create, ...updates]));
    expect(sameHead(head, foldUser(user.id, stream))).toBe(true);
    const report = await verifyProjection(resources.stores.events, resources.stores.users);
    expect(report).toMatchObject({ mismatches: [], duplicateEvents: [], events: UPDATES + 1 });
  }, 180_000);
});
