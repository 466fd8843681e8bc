// The batch handler ends an attempt only once every create of the batch has settled.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { NewUser } from '../../shared/domain/jobs.js';
import type { UserProjectionStore } from '../../shared/store/types.js';
import { makeHandlers } from '../../worker/handlers.js';
import type { UserCommands } from '../../worker/user-commands.js';

const user = (id: string): NewUser => ({ id, name: 'Ada', email: 'ada@example.com', age: 36 });

describe('batch-create-users', () => {
  it('does not fail the attempt while another create of the batch is still in flight', async () => {
    // Arrange: one create fails at once, the other lands 50 ms later (a slow append).
    let landed = false;
    const commands = {
      create: async (_jobId: string, u: NewUser) => {
        if (u.id === 'fails') throw new Error('InternalServerError (injected)');
        await sleep(50);
        landed = true;
        return { userId: u.id, version: 1, applied: true };
      },
    } as unknown as UserCommands;
    const handlers = makeHandlers({} as UserProjectionStore, commands);

    // Act
    const attempt = handlers['batch-create-users']({ users: [user('fails'), user('slow')] }, 'job-1');

    // Assert: when the attempt fails, the slow append has already landed, so a check of what the
    // job applied (before a retry or the dead-letter queue) sees it.
    await expect(attempt).rejects.toThrow('InternalServerError');
    expect(landed).toBe(true);
  });
});
