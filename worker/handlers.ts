// One handler per operation. Handlers see only the stores and the write path, never the SDK.
import type { JobResult, ParsedPayloads } from '../shared/domain/jobs.js';
import type { JobName } from '../shared/domain/operations.js';
import type { UserProjectionStore } from '../shared/store/types.js';
import type { UserCommands } from './user-commands.js';

export type Handlers = { [K in JobName]: (payload: ParsedPayloads[K], jobId: string) => Promise<JobResult> };

export function makeHandlers(users: UserProjectionStore, commands: UserCommands): Handlers {
  return {
    'create-user': async ({ user }, jobId) => {
      const out = await commands.create(jobId, user);
      return { op: 'create-user', userId: out.userId, version: out.version, applied: out.applied };
    },
    'get-user': async ({ userId }) => {
      // A missing user is an answer, not an error: the job succeeds with found: false.
      const user = await users.getUser(userId);
      return user
        ? { op: 'get-user', userId, found: true, user: { ...user } }
        : { op: 'get-user', userId, found: false };
    },
    'update-user': async ({ userId, changes }, jobId) => {
      const out = await commands.update(jobId, userId, changes);
      return {
        op: 'update-user',
        userId,
        version: out.version,
        applied: out.applied,
        ...(out.conflicts ? { conflicts: out.conflicts } : {}),
      };
    },
    'query-by-department': async ({ department, limit }) => {
      const found = await users.queryByDepartment(department, limit);
      return { op: 'query-by-department', department, count: found.length };
    },
    'delete-user': async ({ userId }, jobId) => {
      const out = await commands.delete(jobId, userId);
      return {
        op: 'delete-user',
        userId,
        version: out.version,
        applied: out.applied,
        ...(out.alreadyDeleted ? { alreadyDeleted: true } : {}),
        ...(out.conflicts ? { conflicts: out.conflicts } : {}),
      };
    },
    'batch-create-users': async ({ users: batch }, jobId) => {
      // Each user is its own aggregate; all share the job id, so a retry skips the ones that landed.
      // allSettled, not all: the attempt must not end (and be retried, or dead-lettered after a check
      // of what landed) while some of its appends are still in flight and may land afterwards.
      const settled = await Promise.allSettled(batch.map((user) => commands.create(jobId, user)));
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      const outcomes = settled.map((s) => (s as PromiseFulfilledResult<{ applied: boolean }>).value);
      return { op: 'batch-create-users', count: batch.length, applied: outcomes.filter((o) => o.applied).length };
    },
  };
}
