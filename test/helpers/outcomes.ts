// What the outcome tests share: a write path paused at its link (a stale delivery), an update job of
// a user that exists, a dead-letter move as a worker makes it (bars, then the decision), and a
// job's decision marks.
import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import { EffectBars } from '../../shared/lifecycle/effect-bars.js';
import type { Stores, UserProjectionStore } from '../../shared/store/types.js';
import type { JobSystem } from '../../shared/wiring.js';
import { UserCommands } from '../../worker/user-commands.js';
import { activate, type Gate, gate } from './interleave.js';
import { newUser } from './pipeline.js';

/** A write path whose first link waits at a gate: a delivery paused between its reads and its write. */
export function pausedBeforeLink(stores: Stores): { commands: UserCommands; gate: Gate } {
  const g = gate();
  let armed = true;
  const users: UserProjectionStore = Object.create(stores.users);
  users.link = async (head, from, bars) => {
    if (armed) {
      armed = false;
      await g.wait();
    }
    return stores.users.link(head, from, bars);
  };
  return { commands: new UserCommands({ events: stores.events, users }), gate: g };
}

/** A user that exists (version 1), and an update job of it enqueued. */
export async function updateJobOfNewUser(system: JobSystem) {
  const user = newUser();
  await new UserCommands(system.stores).create(randomUUID(), user);
  const id = randomUUID();
  const data = { userId: user.id, changes: { age: 42 } };
  await system.lifecycle.enqueue([{ id, name: 'update-user', data }]);
  return { id, userId: user.id, job: { id, name: 'update-user', data } };
}

/** An update job of a user that exists, taken by a delivery and failed for good by BullMQ before any effect. */
export async function failedUpdateJob(system: JobSystem) {
  const { id, userId } = await updateJobOfNewUser(system);
  const { job, token } = await activate(system, id);
  await job.moveToFailed(new UnrecoverableError('boom: failed for good'), token, false);
  return { id, userId };
}

/** What a move does in a worker (Settler.settle): bar the job's effect, then decide; `before` runs first. */
export function moveOf(system: JobSystem, before?: () => Promise<void>) {
  const effects = new EffectBars(system.stores);
  return async (id: string) => {
    const failed = await system.queues.operations.getJob(id);
    if (!failed) throw new Error(`job ${id} is not in the operations queue`);
    return system.lifecycle.settleFailed(failed, async (generation) => {
      await before?.();
      return effects.bar({ id, name: failed.name, data: failed.data }, generation);
    });
  };
}

/** A move (a sweep's page, say) that has read the job's undecided record and is paused before its bar. */
export async function movePausedBeforeBar(system: JobSystem, id: string) {
  const g = gate();
  const result = moveOf(system, g.wait)(id);
  await g.reached;
  return { result, release: g.release };
}

/** `restoreAccepted`'s DLQ entry builder where the job must be undecided: asked for one, the test fails. */
export const notDeadLettered = (): Promise<never> => Promise.reject(new Error('expected an undecided job'));

/** The job's decisions and redrives, in order. */
export const marksOf = async (system: JobSystem, id: string) =>
  (await system.stores.jobs.get(id))?.marks.map((m) => m.outcome);

/**
 * An update job whose delivery is paused before its link while BullMQ fails the job for good (its
 * lock expired: what the stalled check leaves). It resumes at `stale.gate.release()`.
 */
export async function staleDeliveryOfFailedJob(system: JobSystem, stores: Stores) {
  const { id, userId } = await updateJobOfNewUser(system);
  const { job, token } = await activate(system, id);
  const stale = pausedBeforeLink(stores);
  const delivery = stale.commands.update(id, userId, { age: 42 });
  await stale.gate.reached;
  await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), token, false);
  return { id, userId, job, token, delivery, stale };
}
