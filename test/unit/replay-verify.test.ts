// djq replay --verify: a difference on a user that an unfinished job targets is pending work, not a
// mismatch (a stopped stack whose create waits for its retry); one no job explains is a mismatch.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { UserEvent } from '../../shared/domain/user.js';
import { verifyProjection } from '../../shared/operator/replay.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';

function created(userId: string, jobId: string): UserEvent {
  const data = { id: userId, name: 'Ada', email: 'ada@example.com', age: 36 };
  return { userId, version: 1, type: 'UserCreated', data, jobId, at: new Date(0).toISOString() };
}

describe('verifyProjection', () => {
  it('explains a projection behind its events by the job still pending on that user', async () => {
    const stores = createMemoryStores();
    const waiting = randomUUID();
    const orphan = randomUUID();
    // Linked events whose head is missing (with the head as the concurrency token a crash cannot
    // leave this, only damage can; an event never linked is in no stream and is no difference).
    for (const [userId, jobId] of [
      [waiting, 'job-waiting-for-retry'],
      [orphan, 'job-long-gone'],
    ] as const) {
      await stores.events.put(created(userId, jobId));
      await stores.events.markLinked(userId, jobId, 1);
    }
    const pending = new Map([[waiting, ['job-waiting-for-retry']]]);

    const report = await verifyProjection(stores.events, stores.users, async () => pending);

    expect(report.explained).toEqual([
      expect.objectContaining({
        userId: waiting,
        problem: 'events without a projection row',
        pendingJobs: ['job-waiting-for-retry'],
      }),
    ]);
    expect(report.mismatches).toEqual([expect.objectContaining({ userId: orphan })]);
  });
});
