// A redrive paused past its transition lock between writing its intent and adding its held
// instance, while the sweep ran: the sweep found the intent with no job yet and dropped it, then
// the holder woke up, added the instance (BullMQ's add cannot check our token) and stopped at its
// next fence. Seen in the pause-past-lock chaos scenario (a djq redrive SIGSTOPped mid-run). The
// next redrive of the entry must finish that redrive, not call the job busy for good.
// Forced with a gate at the step after the add, and the sweep's drop written as it makes it.

import { describe, expect, it } from 'vitest';
import { failedJob, noEffect, redriveStoppedWithoutIntent, useRaceActors, whereIs } from '../helpers/interleave.js';

const { actor, resources } = useRaceActors();

describe('a redrive stopped half-way whose intent the sweep dropped', () => {
  it("is finished by the next redrive of the job's entry (the generation DynamoDB opened names its instance)", async () => {
    const worker = actor('worker');
    const job = await failedJob(worker);
    const id = String(job.id);
    expect(await worker.lifecycle.settleFailed(job, noEffect)).toBe('dead-lettered');
    // Its lock runs out while it is paused, and the sweep dropped its intent (it ran before the add).
    await redriveStoppedWithoutIntent(actor('operator'), resources().redis, id);
    // Held back, its DLQ entry still there, no intent: no sweep will ever finish it.
    expect(await whereIs(worker, id)).toMatchObject({ operations: 'delayed', deadLettered: true });
    expect(await actor('operator-2').lifecycle.redrive(id)).toBe('done');
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
  });
});
