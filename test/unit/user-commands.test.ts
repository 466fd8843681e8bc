// The write path against the in-memory stores (same contracts as DynamoDB): duplicates, a crash at
// each step of the README's table, racing writers in separate processes (one UserCommands each),
// and the cost of a command on a long stream. The same scenarios run against dynalite in
// test/integration.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { foldUser, RECENT_JOBS, sameHead } from '../../shared/domain/user.js';
import { isLinked } from '../../shared/lifecycle/effect-bars.js';
import { loadUser, verifyProjection } from '../../shared/operator/replay.js';
import {
  UserAlreadyExistsError,
  UserDeletedError,
  UserNotFoundError,
  VersionConflictError,
} from '../../shared/store/errors.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import type { EventStore, UserProjectionStore } from '../../shared/store/types.js';
import { UserCommands } from '../../worker/user-commands.js';

const newUser = () => ({
  id: randomUUID(),
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  age: 36,
  department: 'Engineering',
});

type Method = (...args: unknown[]) => Promise<unknown>;

/** Wraps every store method: counts calls, and can make one call die before or after it ran. */
function instrument<T extends object>(store: T) {
  const calls = new Map<string, number>();
  const crashes: { method: string; when: 'before' | 'after' }[] = [];
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return async (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        const crash = crashes.findIndex((c) => c.method === prop);
        if (crash < 0) return (value as Method).apply(target, args);
        const when = crashes.splice(crash, 1)[0]?.when;
        if (when === 'after') await (value as Method).apply(target, args);
        throw new Error(`process died ${when} ${prop}`);
      };
    },
  });
  return {
    store: wrapped,
    calls,
    /** The next call of `method` dies before (nothing written) or after (written, not acknowledged). */
    crashAt(method: string, when: 'before' | 'after') {
      crashes.push({ method, when });
    },
    total: () => [...calls.values()].reduce((a, b) => a + b, 0),
  };
}

function setup() {
  const stores = createMemoryStores();
  const events = instrument<EventStore>(stores.events);
  const users = instrument<UserProjectionStore>(stores.users);
  /** A worker process of its own: its own in-process queue per user, the same stores. */
  const processWith = () =>
    new UserCommands({ events: events.store, users: users.store, maxConflictRounds: 50, backoffMs: () => 0 });
  const commands = processWith();
  const stream = async (userId: string) => (await loadUser(stores.events, stores.users, userId)).stream;
  const projectionMatches = async (userId: string) => {
    const { head, stream } = await loadUser(stores.events, stores.users, userId);
    return sameHead(head, foldUser(userId, stream));
  };
  const reset = () => {
    events.calls.clear();
    users.calls.clear();
  };
  return { stores, events, users, commands, processWith, stream, projectionMatches, reset };
}

/**
 * A user created by job 'c', then an update (job 'u', age 99, unless given) dying at one store's
 * step, as a process killed there would: the fixture and the user, for the retry that follows.
 */
async function afterCrashedUpdate(crash: {
  events?: [string, 'before' | 'after'];
  users?: [string, 'before' | 'after'];
  jobId?: string;
  age?: number;
  throws: string;
}) {
  const fixture = setup();
  const user = newUser();
  await fixture.commands.create('c', user);
  if (crash.events) fixture.events.crashAt(...crash.events);
  if (crash.users) fixture.users.crashAt(...crash.users);
  await expect(fixture.commands.update(crash.jobId ?? 'u', user.id, { age: crash.age ?? 99 })).rejects.toThrow(
    crash.throws,
  );
  return { ...fixture, user };
}

describe('UserCommands', () => {
  it('a create delivered twice appends one event', async () => {
    const { commands, stream, projectionMatches } = setup();
    const user = newUser();
    expect((await commands.create('job-1', user)).applied).toBe(true);
    expect((await commands.create('job-1', user)).applied).toBe(false);
    expect(await stream(user.id)).toHaveLength(1);
    expect(await projectionMatches(user.id)).toBe(true);
  });

  it('a create of an id another job created is final, and leaves no event behind', async () => {
    const { stores, commands } = setup();
    const user = newUser();
    await commands.create('job-1', user);
    await expect(commands.create('job-2', user)).rejects.toEqual(new UserAlreadyExistsError(user.id, 'job-1'));
    expect((await stores.events.listUser(user.id)).map((e) => e.jobId)).toEqual(['job-1']);
  });

  it('an update delivered twice, even after later events, appends one event', async () => {
    const { stores, commands, stream, projectionMatches } = setup();
    const user = newUser();
    await commands.create('c', user);
    await commands.update('u1', user.id, { age: 40 });
    await commands.update('u2', user.id, { department: 'HR' });
    expect((await commands.update('u1', user.id, { age: 40 })).applied).toBe(false);
    expect((await stream(user.id)).map((e) => e.jobId)).toEqual(['c', 'u1', 'u2']);
    expect((await stores.users.getUser(user.id))?.department).toBe('HR');
    expect(await projectionMatches(user.id)).toBe(true);
  });

  it('deliveries racing from several processes: every job once, none lost, projection = fold', async () => {
    const { processWith, commands, stream, projectionMatches, stores } = setup();
    const user = newUser();
    await commands.create('c', user);
    const processes = [processWith(), processWith(), processWith()];
    await Promise.all([
      // The same job delivered to every process at once, twice each.
      ...processes.flatMap((p) => [p.update('same', user.id, { age: 50 }), p.update('same', user.id, { age: 50 })]),
      ...Array.from({ length: 30 }, (_, i) => processes[i % 3]!.update(`other-${i}`, user.id, { age: 60 + i })),
    ]);
    const jobIds = (await stream(user.id)).map((e) => e.jobId);
    expect(jobIds.filter((j) => j === 'same')).toHaveLength(1);
    expect(new Set(jobIds).size).toBe(jobIds.length);
    expect(jobIds).toHaveLength(32);
    expect(await projectionMatches(user.id)).toBe(true);
    const report = await verifyProjection(stores.events, stores.users);
    expect(report).toMatchObject({ mismatches: [], duplicateEvents: [], events: 32 });
  });

  describe('a crash at each step is made good by the retry, with one event', () => {
    it('before the event is written: the retry writes and links it', async () => {
      const { commands, stream, projectionMatches, user } = await afterCrashedUpdate({
        events: ['put', 'before'],
        throws: 'died before put',
      });
      expect((await commands.update('u', user.id, { age: 99 })).applied).toBe(true);
      expect((await stream(user.id)).map((e) => e.jobId)).toEqual(['c', 'u']);
      expect(await projectionMatches(user.id)).toBe(true);
    });

    it('after the event is written, before the link: the retry links the stored event', async () => {
      const { stores, events, users, commands, stream, projectionMatches, user } = await afterCrashedUpdate({
        events: ['put', 'after'],
        throws: 'died after put',
      });
      expect((await stores.users.getUser(user.id))?.age).toBe(36); // not part of the state yet
      expect(await isLinked({ events: events.store, users: users.store }, 'u', user.id)).toBe(false);
      expect(await commands.update('u', user.id, { age: 99 })).toMatchObject({ applied: true, version: 2 });
      expect((await stream(user.id)).map((e) => e.jobId)).toEqual(['c', 'u']);
      expect((await stores.users.getUser(user.id))?.age).toBe(99);
      expect(await projectionMatches(user.id)).toBe(true);
    });

    it('after the event is written, and another job took its version meanwhile: the retry moves it', async () => {
      const { stores, commands, processWith, stream, projectionMatches, user } = await afterCrashedUpdate({
        events: ['put', 'after'],
        throws: 'died after put',
      });
      await processWith().update('other', user.id, { department: 'HR' }); // links version 2 first
      expect(await commands.update('u', user.id, { age: 99 })).toMatchObject({ applied: true, version: 3 });
      expect((await stream(user.id)).map((e) => e.jobId)).toEqual(['c', 'other', 'u']);
      expect(await stores.users.getUser(user.id)).toMatchObject({ age: 99, department: 'HR' });
      expect(await projectionMatches(user.id)).toBe(true);
      expect((await verifyProjection(stores.events, stores.users)).unlinked).toBe(0);
    });

    it('after the link, before the ack: the retry finds it applied and writes nothing', async () => {
      const { users, events, commands, stream, projectionMatches, reset, user } = await afterCrashedUpdate({
        users: ['link', 'after'],
        throws: 'died after link',
      });
      reset();
      expect((await commands.update('u', user.id, { age: 99 })).applied).toBe(false);
      expect([...events.calls.keys(), ...users.calls.keys()].sort()).toEqual(['getByJob', 'readForWrite']);
      expect((await stream(user.id)).map((e) => e.jobId)).toEqual(['c', 'u']);
      expect(await projectionMatches(user.id)).toBe(true);
    });

    it('after the flags of what leaves the window, before the link: flags are facts, the retry links', async () => {
      const { users, commands, stream, projectionMatches } = setup();
      const user = newUser();
      await commands.create('c', user);
      for (let i = 0; i < RECENT_JOBS; i++) await commands.update(`u${i}`, user.id, { age: 40 + i });
      users.crashAt('link', 'before');
      await expect(commands.update('x', user.id, { age: 1 })).rejects.toThrow('died before link');
      expect((await commands.update('x', user.id, { age: 1 })).applied).toBe(true);
      expect((await stream(user.id)).map((e) => e.jobId)).toEqual(['c', 'u0', 'u1', 'u2', 'u3', 'x']);
      expect(await projectionMatches(user.id)).toBe(true);
    });
  });

  it('a redelivery after thousands of later events finds its event with a bounded read', async () => {
    const { stores, events, users, commands, stream, reset } = setup();
    const user = newUser();
    await commands.create('c', user);
    await commands.update('early', user.id, { age: 1 });
    for (let i = 0; i < 3000; i++) await commands.update(`later-${i}`, user.id, { age: 2 + (i % 90) });
    reset();
    expect(await commands.update('early', user.id, { age: 1 })).toMatchObject({ applied: false, version: 2 });
    expect(await isLinked({ events: events.store, users: users.store }, 'early', user.id)).toBe(true);
    expect(events.total() + users.total()).toBe(4); // head + own event, twice
    expect((await stream(user.id)).filter((e) => e.jobId === 'early')).toHaveLength(1);
    expect((await stores.users.getHead(user.id))?.version).toBe(3002);
  });

  it('an update costs the same store calls on the 10th event as on the 3,000th', async () => {
    const { events, users, commands, reset } = setup();
    const user = newUser();
    await commands.create('c', user);
    const cost = async (jobId: string) => {
      reset();
      await commands.update(jobId, user.id, { age: 5 });
      return { events: Object.fromEntries(events.calls), users: Object.fromEntries(users.calls) };
    };
    for (let i = 0; i < 10; i++) await commands.update(`a-${i}`, user.id, { age: 3 });
    const short = await cost('at-10');
    for (let i = 0; i < 3000; i++) await commands.update(`b-${i}`, user.id, { age: 3 });
    expect(await cost('at-3000')).toEqual(short);
    expect(short).toEqual({ events: { getByJob: 1, put: 1, markLinked: 1 }, users: { readForWrite: 1, link: 1 } });
  });

  it('isLinked: linked in the window, flagged below it, and not for a lost or unlinked event', async () => {
    const { events, users, commands, processWith, user } = await afterCrashedUpdate({
      events: ['put', 'after'],
      jobId: 'lost',
      age: 2,
      throws: 'died',
    });
    expect(await isLinked({ events: events.store, users: users.store }, 'lost', user.id)).toBe(false); // written, next, not linked
    await processWith().update('winner', user.id, { age: 3 });
    expect(await isLinked({ events: events.store, users: users.store }, 'lost', user.id)).toBe(false); // its version went to another job
    expect(await isLinked({ events: events.store, users: users.store }, 'winner', user.id)).toBe(true); // in the head's window
    for (let i = 0; i < RECENT_JOBS + 2; i++) await commands.update(`later-${i}`, user.id, { age: 4 });
    expect(await isLinked({ events: events.store, users: users.store }, 'winner', user.id)).toBe(true); // flagged when it left the window
    expect(await isLinked({ events: events.store, users: users.store }, 'lost', user.id)).toBe(false);
    expect(await isLinked({ events: events.store, users: users.store }, 'never', user.id)).toBe(false);
  });

  it('a job whose event was lost long ago, then redelivered, moves it past every later event', async () => {
    const { stores, commands, processWith, stream, projectionMatches, user } = await afterCrashedUpdate({
      events: ['put', 'after'],
      jobId: 'late',
      age: 70,
      throws: 'died',
    });
    const other = processWith();
    for (let i = 0; i < 50; i++) await other.update(`o-${i}`, user.id, { age: 20 });
    expect((await commands.update('late', user.id, { age: 70 })).version).toBe(52);
    expect((await stream(user.id)).filter((e) => e.jobId === 'late')).toHaveLength(1);
    expect((await stores.users.getUser(user.id))?.age).toBe(70);
    expect(await projectionMatches(user.id)).toBe(true);
  });

  it('a lost event whose job then ends for good is removed, not left for replay to skip', async () => {
    const { stores, commands, processWith, user } = await afterCrashedUpdate({
      events: ['put', 'after'],
      age: 70,
      throws: 'died',
    });
    await processWith().delete('d', user.id);
    await expect(commands.update('u', user.id, { age: 70 })).rejects.toBeInstanceOf(UserDeletedError);
    expect((await stores.events.listUser(user.id)).map((e) => e.jobId)).toEqual(['c', 'd']);
  });

  it('update and delete of a missing user retry; update of a deleted user is final; delete is idempotent', async () => {
    const { commands } = setup();
    const user = newUser();
    await expect(commands.update('u', user.id, { age: 1 })).rejects.toBeInstanceOf(UserNotFoundError);
    await expect(commands.delete('d', user.id)).rejects.toBeInstanceOf(UserNotFoundError);
    await commands.create('c', user);
    expect((await commands.delete('d', user.id)).applied).toBe(true);
    expect(await commands.delete('d2', user.id)).toMatchObject({ applied: false, alreadyDeleted: true });
    await expect(commands.update('u', user.id, { age: 1 })).rejects.toBeInstanceOf(UserDeletedError);
  });

  it('a writer that keeps losing gives up with a VersionConflictError (the processor puts the job back)', async () => {
    const { stores } = setup();
    const user = newUser();
    const link = stores.users.link.bind(stores.users);
    const commands = new UserCommands({
      events: stores.events,
      users: { ...stores.users, link: async () => false, readForWrite: stores.users.readForWrite.bind(stores.users) },
      maxConflictRounds: 3,
      backoffMs: () => 0,
    });
    await link(
      foldUser(user.id, [{ type: 'UserCreated', userId: user.id, version: 1, jobId: 'c', at: 't', data: user }])!,
      0,
    );
    await expect(commands.update('u', user.id, { age: 1 })).rejects.toBeInstanceOf(VersionConflictError);
  });

  it('the head moves only from the version it was read at', async () => {
    const { stores } = setup();
    const head = { userId: 'x', version: 1, deleted: true, recentJobs: ['a'], createdBy: 'a' };
    expect(await stores.users.link(head, 0)).toBe(true);
    expect(await stores.users.link({ ...head, version: 2, recentJobs: ['a', 'b'] }, 0)).toBe(false);
    expect(await stores.users.link({ ...head, version: 2, recentJobs: ['a', 'b'] }, 1)).toBe(true);
    expect(await stores.users.link({ ...head, version: 3, recentJobs: ['a', 'b', 'c'] }, 1)).toBe(false);
  });
});
