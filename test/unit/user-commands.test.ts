// The write path against the in-memory stores (same contracts as DynamoDB): duplicates, crashes at
// each step, concurrent deliveries. The same scenarios run against dynalite in test/integration.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { foldUser, sameState } from '../../shared/domain/user.js';
import { UserAlreadyExistsError, UserDeletedError, UserNotFoundError } from '../../shared/store/errors.js';
import { createMemoryStores } from '../../shared/store/memory-stores.js';
import { UserCommands } from '../../worker/user-commands.js';

const newUser = () => ({
  id: randomUUID(),
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  age: 36,
  department: 'Engineering',
});

function setup() {
  const stores = createMemoryStores();
  const commands = new UserCommands({ events: stores.events, users: stores.users });
  const projectionMatches = async (userId: string) =>
    sameState(await stores.users.getState(userId), foldUser(userId, await stores.events.load(userId)));
  return { stores, commands, projectionMatches };
}

describe('UserCommands', () => {
  it('a create delivered twice appends one event', async () => {
    const { stores, commands, projectionMatches } = setup();
    const user = newUser();
    expect((await commands.create('job-1', user)).applied).toBe(true);
    expect((await commands.create('job-1', user)).applied).toBe(false);
    expect(await stores.events.load(user.id)).toHaveLength(1);
    expect(await projectionMatches(user.id)).toBe(true);
  });

  it('a create of an id another job created is final', async () => {
    const { commands } = setup();
    const user = newUser();
    await commands.create('job-1', user);
    await expect(commands.create('job-2', user)).rejects.toBeInstanceOf(UserAlreadyExistsError);
  });

  it('an update delivered twice, even after later events, appends one event', async () => {
    const { stores, commands, projectionMatches } = setup();
    const user = newUser();
    await commands.create('c', user);
    await commands.update('u1', user.id, { age: 40 });
    await commands.update('u2', user.id, { department: 'HR' });
    expect((await commands.update('u1', user.id, { age: 40 })).applied).toBe(false);
    const events = await stores.events.load(user.id);
    expect(events.map((e) => e.jobId)).toEqual(['c', 'u1', 'u2']);
    expect((await stores.users.getUser(user.id))?.department).toBe('HR');
    expect(await projectionMatches(user.id)).toBe(true);
  });

  it('concurrent deliveries of one job append one event; other jobs all land', async () => {
    const { stores, commands, projectionMatches } = setup();
    const user = newUser();
    await commands.create('c', user);
    await Promise.all([
      ...Array.from({ length: 5 }, () => commands.update('same', user.id, { age: 50 })),
      ...Array.from({ length: 3 }, (_, i) => commands.update(`other-${i}`, user.id, { age: 60 + i })),
    ]);
    const jobIds = (await stores.events.load(user.id)).map((e) => e.jobId);
    expect(jobIds.filter((j) => j === 'same')).toHaveLength(1);
    expect(new Set(jobIds).size).toBe(jobIds.length);
    expect(jobIds).toHaveLength(5);
    expect(await projectionMatches(user.id)).toBe(true);
  });

  it('a crash between append and projection is repaired by the retry', async () => {
    const { stores, commands, projectionMatches } = setup();
    const user = newUser();
    await commands.create('c', user);
    const put = stores.users.put.bind(stores.users);
    stores.users.put = async () => {
      throw new Error('process died before projecting');
    };
    await expect(commands.update('u', user.id, { age: 99 })).rejects.toThrow('died');
    expect(await projectionMatches(user.id)).toBe(false);
    stores.users.put = put;
    expect((await commands.update('u', user.id, { age: 99 })).applied).toBe(false);
    expect(await stores.events.load(user.id)).toHaveLength(2);
    expect(await projectionMatches(user.id)).toBe(true);
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

  it('an older state never overwrites a newer projection', async () => {
    const { stores } = setup();
    expect(await stores.users.put({ userId: 'x', version: 2, deleted: true })).toBe(true);
    expect(await stores.users.put({ userId: 'x', version: 1, deleted: true })).toBe(false);
    expect(await stores.users.put({ userId: 'x', version: 2, deleted: true })).toBe(false);
  });
});
