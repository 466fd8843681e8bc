// A redrive paused past its transition lock at each gap BullMQ's own commands leave, as the
// pause-past-lock chaos scenario found them (a djq redrive SIGSTOPped mid-run, with 1 s locks):
// - between writing its intent and adding its held instance, while the sweep ran: the sweep found
//   the intent with no job yet and dropped it, then the holder woke up, added the instance (BullMQ's
//   add cannot check our token) and stopped at its next fence. The next redrive, or the sweep, must
//   finish that redrive; never leave the job held for a day.
// - the same gap while another redrive finished the job's redrive and the job completed (or was
//   dead-lettered again): the late add leaves a hold no redrive will release. The sweep removes it,
//   and a purge or redrive of the later entry removes it too (it was called busy for good).
// - between its fence and its DLQ entry's removal, while the sweep finished its redrive and the job
//   failed for good again: the later generation's DLQ entry must stay (the removal is checked
//   against the lock and the entry's timestamp in one script now; before, it removed whatever entry
//   the id had, and the job was lost).
// Forced with gates at the steps and the lock's expiry written as it happens (the key deleted).

import { describe, expect, it } from 'vitest';
import {
  activate,
  completedAttempt,
  failedJob,
  failNext,
  noEffect,
  pausedAt,
  redriveStoppedWithoutIntent,
  useRaceActors,
  whereIs,
} from '../helpers/interleave.js';

const { actor, resources } = useRaceActors();

async function deadLettered() {
  const worker = actor('worker');
  const job = await failedJob(worker);
  const id = String(job.id);
  expect(await worker.lifecycle.settleFailed(job, noEffect)).toBe('dead-lettered');
  return { worker, id };
}

describe('a redrive stopped half-way whose intent the sweep dropped', () => {
  it("is finished by the next redrive of the job's entry (the generation DynamoDB opened names its instance)", async () => {
    const { worker, id } = await deadLettered();
    await redriveStoppedWithoutIntent(actor('operator'), resources().redis, id);
    // Held back, its DLQ entry still there, no intent.
    expect(await whereIs(worker, id)).toMatchObject({ operations: 'delayed', deadLettered: true });
    expect(await actor('operator-2').lifecycle.redrive(id)).toBe('done');
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
  });

  it('is finished by the sweep, with no second redrive', async () => {
    const { worker, id } = await deadLettered();
    await redriveStoppedWithoutIntent(actor('operator'), resources().redis, id);
    expect(await actor('sweeper').lifecycle.finishInterruptedRedrives()).toBe(1);
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
  });
});

describe('a redrive paused past its lock right before its add', () => {
  it('leaves a hold of a completed generation, which the sweep removes', async () => {
    const { worker, id } = await deadLettered();
    const late = actor('operator');
    const paused = await pausedAt(late.lifecycle, 'redrive:adding', id, () => late.lifecycle.redrive(id));
    await resources().redis.del(late.keys.transitionLock(id)); // its lock ran out
    // Another operator's redrive resumes the one DynamoDB shows half-way, and the job completes.
    expect(await actor('operator-2').lifecycle.redrive(id)).toBe('done');
    const next = await activate(worker, id);
    expect(await worker.lifecycle.completed(next.job, completedAttempt(id))).toBe(true);
    await next.job.moveToCompleted('done', next.token, false);
    await next.job.remove();
    // The late one wakes up, adds its instance (nothing of the id is left to make that a no-op) and
    // stops at its next fence.
    paused.release();
    await expect(paused.result).rejects.toThrow(/expired while its transition was half-way/);
    expect(await whereIs(worker, id)).toEqual({ operations: 'delayed', deadLettered: false, outcome: 'completed' });

    expect(await actor('sweeper').lifecycle.finishInterruptedRedrives()).toBe(1);
    expect(await whereIs(worker, id)).toEqual({ operations: 'missing', deadLettered: false, outcome: 'completed' });
  });
});

describe('a redrive paused past its lock right before removing its DLQ entry', () => {
  it('never removes the entry of the generation after it', async () => {
    const { worker, id } = await deadLettered();
    const late = actor('operator');
    const paused = await pausedAt(late.lifecycle, 'redrive:removing-entry', id, () => late.lifecycle.redrive(id));
    await resources().redis.del(late.keys.transitionLock(id)); // its lock ran out
    // The sweep finishes that redrive (its intent names the held instance), and the job fails for
    // good again: a new generation, dead-lettered, with a DLQ entry of its own.
    expect(await actor('sweeper').lifecycle.finishInterruptedRedrives()).toBe(1);
    const failed = await failNext(worker, id);
    expect(await worker.lifecycle.settleFailed(failed, noEffect)).toBe('dead-lettered');

    paused.release();
    await expect(paused.result).rejects.toThrow(/expired while its transition was half-way/);
    expect(await whereIs(worker, id)).toEqual({ operations: 'missing', deadLettered: true, outcome: 'dead-lettered' });
  });
});

describe('a hold stranded beside a later dead-letter entry', () => {
  // The late add lands after the job was redriven by another and dead-lettered again: the hold names
  // a generation DynamoDB has decided, beside that generation's DLQ entry.
  async function strandedBesideEntry() {
    const { worker, id } = await deadLettered();
    const late = actor('operator');
    const paused = await pausedAt(late.lifecycle, 'redrive:adding', id, () => late.lifecycle.redrive(id));
    await resources().redis.del(late.keys.transitionLock(id)); // its lock ran out
    expect(await actor('operator-2').lifecycle.redrive(id)).toBe('done');
    const failed = await failNext(worker, id);
    expect(await worker.lifecycle.settleFailed(failed, noEffect)).toBe('dead-lettered');
    paused.release();
    await expect(paused.result).rejects.toThrow(/expired while its transition was half-way/);
    expect(await whereIs(worker, id)).toEqual({ operations: 'delayed', deadLettered: true, outcome: 'dead-lettered' });
    return { worker, id };
  }

  it('is purged with its entry (not called busy)', async () => {
    const { worker, id } = await strandedBesideEntry();
    expect(await actor('operator-3').lifecycle.purge(id)).toBe('done');
    expect(await whereIs(worker, id)).toEqual({ operations: 'missing', deadLettered: false, outcome: 'purged' });
  });

  it('gives way to the next redrive of the entry', async () => {
    const { worker, id } = await strandedBesideEntry();
    expect(await actor('operator-3').lifecycle.redrive(id)).toBe('done');
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });
  });
});

describe("a late hold landing while the job's next redrive is under way", () => {
  // The late add carries the start of the generation it was for (an earlier one): the next redrive
  // opened a new generation, read no instance of the id, and its own add was then a no-op (BullMQ's
  // add keeps the instance there). It released the late hold as its own: an instance older than
  // the generation DynamoDB has open, whose failure every move skipped as a stale page's, so the job
  // sat in the failed set for good, neither completed nor dead-lettered.
  it('is replaced by the redrive, and the job dead-letters again when it fails for good', async () => {
    const { worker, id } = await deadLettered();
    const late = actor('operator');
    const paused = await pausedAt(late.lifecycle, 'redrive:adding', id, () => late.lifecycle.redrive(id));
    await resources().redis.del(late.keys.transitionLock(id)); // its lock ran out
    // Another operator resumes that redrive, and the job fails for good again.
    expect(await actor('operator-2').lifecycle.redrive(id)).toBe('done');
    expect(await worker.lifecycle.settleFailed(await failNext(worker, id), noEffect)).toBe('dead-lettered');
    // A third redrive (a new generation) reads no instance, and pauses right before its own add ...
    const next = actor('operator-3');
    const redriving = await pausedAt(next.lifecycle, 'redrive:adding', id, () => next.lifecycle.redrive(id));
    // ... while the late one wakes, adds its hold and stops at its next fence.
    paused.release();
    await expect(paused.result).rejects.toThrow(/expired while its transition was half-way/);
    redriving.release();
    expect(await redriving.result).toBe('done');
    expect(await whereIs(worker, id)).toEqual({ operations: 'waiting', deadLettered: false, outcome: 'redriven' });

    expect(await worker.lifecycle.settleFailed(await failNext(worker, id), noEffect)).toBe('dead-lettered');
    expect(await whereIs(worker, id)).toEqual({ operations: 'missing', deadLettered: true, outcome: 'dead-lettered' });
  });
});
