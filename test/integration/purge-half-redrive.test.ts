// A purge of a job whose redrive stopped half-way. Held instance whose intent the sweep dropped (a
// redrive paused past its transition lock between its intent and its add, the pause-past-lock
// case): the purge purges it, as it does a held instance its intent names, instead of calling the
// job busy (delayed) for good. A redrive that died right after opening its generation (no instance
// yet): the purge is refused, and says so, not "running again". Forced with a gate at the step
// after the add and the sweep's drop written as it makes it; the crash by the state it leaves.
import { describe, expect, it } from 'vitest';
import { failedJob, noEffect, redriveStoppedWithoutIntent, useRaceActors, whereIs } from '../helpers/interleave.js';

const { actor, resources } = useRaceActors();

async function deadLettered() {
  const worker = actor('worker');
  const job = await failedJob(worker);
  const id = String(job.id);
  expect(await worker.lifecycle.settleFailed(job, noEffect)).toBe('dead-lettered');
  return { worker, id };
}

describe('a purge of a job whose redrive stopped half-way', () => {
  it('purges the held instance of a redrive whose intent the sweep dropped', async () => {
    const { worker, id } = await deadLettered();
    await redriveStoppedWithoutIntent(actor('operator'), resources().redis, id);
    expect(await whereIs(worker, id)).toMatchObject({ operations: 'delayed', deadLettered: true });

    expect(await actor('operator-2').lifecycle.purge(id)).toBe('done');
    expect(await whereIs(worker, id)).toEqual({ operations: 'missing', deadLettered: false, outcome: 'purged' });
  });

  it('refuses a redrive that died after opening its generation, naming the way out', async () => {
    const { worker, id } = await deadLettered();
    // What a redrive killed right after DynamoDB's reopen leaves: the generation open, the DLQ entry.
    expect(await resources().stores.jobs.reopen(id, 'operator', Date.now())).toBeTruthy();
    const operator = actor('operator');
    await expect(operator.lifecycle.purge(id)).rejects.toThrow(/redrive it to finish that, then purge/);
    expect(await operator.lifecycle.redrive(id)).toBe('done');
    expect(await whereIs(worker, id)).toMatchObject({ deadLettered: false, outcome: 'redriven' });
  });
});
