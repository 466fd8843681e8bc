// Orders of operations on one job id that tried to break "Redis is a rebuildable cache": `djq
// recover` (recoverFromRecords) against a move, a redrive and a second loss of Redis, each forced
// by gates (a recovery paused between its scan of the table and its re-adds, a paused DynamoDB
// call): no sleeps.

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkDecisions } from '../../shared/operator/check-decisions.js';
import { recoverFromRecords } from '../../shared/operator/recover.js';
import type { JobHistoryStore, JobRecord, JobRecordStore } from '../../shared/store/types.js';
import type { JobSystem, ShardedJobSystem } from '../../shared/wiring.js';
import { failedJob, failNext, gate, noEffect, useRaceActors, whereIs } from '../helpers/interleave.js';
import { marksOf } from '../helpers/outcomes.js';
import { deleteKeys } from '../helpers/stack.js';

const { actor, resources } = useRaceActors();

/**
 * `system` seen as the one shard of a queue, for recoverFromRecords. Its scan yields only the
 * records of `ids` (the table is shared with the file's other tests), in that order, and waits at
 * `between(i)` before yielding the i-th: recovery has read the whole table (scanAll reads it all
 * before yielding) and acted on every record before the i-th.
 */
function recoverable(
  system: JobSystem,
  ids: readonly string[],
  between: (i: number) => Promise<void> = async () => undefined,
  history: JobHistoryStore = system.stores.history,
): ShardedJobSystem {
  const table = system.stores.jobs;
  const jobs: JobRecordStore = Object.create(table);
  jobs.scanAll = async function* () {
    const read = new Map<string, JobRecord>();
    for await (const record of table.scanAll()) if (ids.includes(record.jobId)) read.set(record.jobId, record);
    for (const [i, id] of ids.entries()) {
      await between(i);
      const record = read.get(id);
      if (record) yield record;
    }
  };
  return {
    config: system.config,
    shards: [system],
    shardOf: () => 0,
    console: system.console,
    stores: { ...system.stores, jobs, history },
    history: system.history,
    close: async () => undefined,
  };
}

const wipe = (system: JobSystem) => deleteKeys(resources().redis, system.keys.everyKeyPattern);

/** Get-user jobs (no effect to apply), accepted in DynamoDB and added to Redis. */
const enqueueGets = (system: JobSystem, ids: readonly string[]) =>
  system.lifecycle.enqueue(ids.map((id) => ({ id, name: 'get-user', data: { userId: id } })));

describe('djq recover against a move of an instance from before the loss', () => {
  // Recovery reads the job accepted and undecided; before it re-adds it, a move of the failed
  // instance a worker read before Redis lost the queue decides it dead-lettered (its Redis half
  // finds no instance: 'gone'). Recovery's re-add finds it decided and skips it: nobody puts
  // back its DLQ entry, and `djq check` does not look for one.
  it('leaves the job decided dead-lettered with its DLQ entry', async () => {
    const worker = actor('worker');
    const djq = actor('djq');
    const id = randomUUID();
    await enqueueGets(worker, [id]);
    const failed = await failNext(worker, id);
    await wipe(worker);

    const scanned = gate();
    const recovering = recoverFromRecords(recoverable(djq, [id], () => scanned.wait()));
    await scanned.reached;
    expect(await worker.lifecycle.settleFailed(failed, noEffect)).toBe('gone');
    expect((await djq.stores.jobs.get(id))?.outcome).toBe('dead-lettered');
    scanned.release();
    await recovering;

    expect(await whereIs(djq, id)).toMatchObject({ operations: 'missing', deadLettered: true });
  });
});

describe('djq recover against a redrive across the loss', () => {
  // A redrive read the DLQ entry, then its reopen (a slow DynamoDB call) crossed the loss of Redis
  // (its lock went with it: it stops at its next fence). Recovery read the job dead-lettered;
  // by its restore the generation is open: it restores no DLQ entry, and re-adds nothing.
  it('re-enqueues the generation the redrive opened', async () => {
    const worker = actor('worker');
    const operator = actor('operator');
    const djq = actor('djq');
    const id = randomUUID();
    await enqueueGets(worker, [id]);
    expect(await worker.lifecycle.settleFailed(await failNext(worker, id), noEffect)).toBe('dead-lettered');

    const reopening = gate();
    const records = operator.lifecycle.deps.records;
    const paused: JobRecordStore = Object.create(records);
    paused.reopen = async (...args) => {
      await reopening.wait();
      return records.reopen(...args);
    };
    (operator.lifecycle.deps as { records: JobRecordStore }).records = paused;
    const redriving = operator.lifecycle.redrive(id);
    await reopening.reached;
    await wipe(worker);

    const scanned = gate();
    const recovering = recoverFromRecords(recoverable(djq, [id], () => scanned.wait()));
    await scanned.reached;
    reopening.release();
    await expect(redriving).rejects.toThrow(/expired while its transition was half-way/);
    expect(await marksOf(djq, id)).toEqual(['dead-lettered', 'redriven']);
    scanned.release();
    await recovering;

    // Generation 2 is open in DynamoDB: Redis must hold it.
    expect((await whereIs(djq, id)).operations).toBe('waiting');
    expect(await checkDecisions(resources().stores, [djq.queues])).toMatchObject({ undecidedNotInRedis: 0 });
  });
});

describe('Redis loses the queue again while djq recover runs', () => {
  // Recovery re-adds job A, then Redis loses the queue again, then recovery re-adds job B and
  // writes the epoch back: the epoch says Redis and the table agree, and A is in no queue.
  it('does not give Redis the table epoch back', async () => {
    const producer = actor('producer');
    const djq = actor('djq');
    const ids = [randomUUID(), randomUUID()];
    await enqueueGets(producer, ids);
    expect((await djq.checkEpoch()).state).toBe('ok');
    await wipe(producer);

    const secondLoss = gate();
    const report = recoverFromRecords(recoverable(djq, ids, (i) => (i === 1 ? secondLoss.wait() : Promise.resolve())));
    await secondLoss.reached;
    expect((await whereIs(djq, ids[0] as string)).operations).toBe('waiting');
    await wipe(producer);
    secondLoss.release();
    expect(await report).toMatchObject({ reEnqueued: 2, lostDuringRecovery: [0] });

    // A is in no queue: the epoch must still say Redis lost its data…
    expect((await whereIs(djq, ids[0] as string)).operations).toBe('missing');
    expect((await djq.checkEpoch()).state).toBe('redis-lost');
    // …and the next recovery brings A back (B is there) and restores it.
    expect(await recoverFromRecords(recoverable(djq, ids))).toMatchObject({ reEnqueued: 1, lostDuringRecovery: [] });
    expect((await whereIs(djq, ids[0] as string)).operations).toBe('waiting');
    expect((await djq.checkEpoch()).state).toBe('ok');
  });
});

describe('djq recover against a job another actor holds', () => {
  // A worker's move or an operator's redrive holds job A's transition lock for longer than
  // recovery waits for it (a holder paused, or dead with its lock not yet expired). Recovery used
  // to stop there: B, after A in the scan, was never re-enqueued and nothing said why.
  it('goes on with the other jobs, names the busy one and leaves the epoch saying Redis lost data', async () => {
    const producer = actor('producer');
    const djq = actor('djq');
    const [a, b] = [randomUUID(), randomUUID()];
    await enqueueGets(producer, [a, b]);
    expect((await djq.checkEpoch()).state).toBe('ok');
    await wipe(producer);
    // Held by someone else, past the 15 s recovery waits (a contender does not take an unexpired lock).
    await resources().redis.set(djq.keys.transitionLock(a), 'another-actor:token', 'PX', 60_000);

    const report = await recoverFromRecords(recoverable(djq, [a, b]));
    expect(report).toMatchObject({ reEnqueued: 1, busy: [a], lostDuringRecovery: [] });
    expect((await whereIs(djq, b)).operations).toBe('waiting');
    expect((await whereIs(djq, a)).operations).toBe('missing');
    expect((await djq.checkEpoch()).state).toBe('redis-lost');

    // The holder lets go: the next run brings A back and gives the epoch back.
    await resources().redis.del(djq.keys.transitionLock(a));
    expect(await recoverFromRecords(recoverable(djq, [a, b]))).toMatchObject({ reEnqueued: 1, busy: [] });
    expect((await whereIs(djq, a)).operations).toBe('waiting');
    expect((await djq.checkEpoch()).state).toBe('ok');
  });
});

describe('djq recover whose read of a job history is slow', () => {
  /** `system`'s history store whose read of `id` waits at the returned gate (a slow DynamoDB query). */
  function slowHistoryOf(system: JobSystem, id: string) {
    const reading = gate();
    const history: JobHistoryStore = Object.create(system.stores.history);
    history.list = async (jobId) => {
      if (jobId === id) await reading.wait();
      return system.stores.history.list(jobId);
    };
    return { reading, history };
  }

  // Recovery rebuilds the DLQ entry of a dead-lettered job from its DynamoDB history (every page of
  // it, with the SDK's retries when DynamoDB is slow). The job's transition lock runs out meanwhile
  // (TRANSITION_LOCK_MS, 1 s in the chaos runs): nobody else touches the job, but the restore's fence
  // finds the lock gone. The whole recovery stopped there with "expired while its transition was
  // half-way": the DLQ entry and every job after it in the scan stayed lost, the epoch too.
  it('restores the entry and goes on with the next jobs', async () => {
    const worker = actor('worker');
    const djq = actor('djq');
    const failed = await failedJob(worker);
    const dead = String(failed.id);
    expect(await worker.lifecycle.settleFailed(failed, noEffect)).toBe('dead-lettered');
    const undecided = randomUUID();
    await enqueueGets(worker, [undecided]);
    await wipe(worker);

    const { reading, history } = slowHistoryOf(djq, dead);
    const report = recoverFromRecords(recoverable(djq, [dead, undecided], undefined, history));
    await reading.reached;
    await resources().redis.del(djq.keys.transitionLock(dead)); // its TTL ran out
    reading.release();

    expect(await report).toMatchObject({ reEnqueued: 1, deadLettersRestored: 1, lostDuringRecovery: [] });
    expect(await whereIs(djq, dead)).toMatchObject({ operations: 'missing', deadLettered: true });
    expect((await whereIs(djq, undecided)).operations).toBe('waiting');
    expect((await djq.checkEpoch()).state).toBe('ok');
  });

  // The same slow read, while a second recovery restored the entry and an operator purged it: the
  // first recovery must not put back a DLQ entry for a job decided purged.
  it('puts back no entry for the job an operator purged meanwhile', async () => {
    const worker = actor('worker');
    const operator = actor('operator');
    const first = actor('djq');
    const second = actor('djq-2');
    const failed = await failedJob(worker);
    const id = String(failed.id);
    expect(await worker.lifecycle.settleFailed(failed, noEffect)).toBe('dead-lettered');
    await wipe(worker);

    const { reading, history } = slowHistoryOf(first, id);
    const slow = recoverFromRecords(recoverable(first, [id], undefined, history)).catch((error: Error) => error);
    await reading.reached;
    await resources().redis.del(first.keys.transitionLock(id)); // its TTL ran out
    expect(await recoverFromRecords(recoverable(second, [id]))).toMatchObject({ deadLettersRestored: 1 });
    expect(await operator.lifecycle.purge(id)).toBe('done');
    reading.release();
    await slow;

    expect(await whereIs(operator, id)).toMatchObject({ operations: 'missing', deadLettered: false });
    expect(await marksOf(operator, id)).toEqual(['dead-lettered', 'purged']);
  });
});

describe('two djq recover runs at once', () => {
  // A begins (its mark written) and is paused before its first re-add; Redis loses the queue
  // (A's mark goes with it); B begins after the loss and runs to the end; then A goes on. Every job
  // is in Redis and the epoch is back (B's mark survived); A, whose mark is gone, says so.
  it('the run that began after the loss gives the epoch back, the other says to run again', async () => {
    const producer = actor('producer');
    const first = actor('djq');
    const second = actor('djq-2');
    const ids = [randomUUID(), randomUUID()];
    await enqueueGets(producer, ids);
    expect((await first.checkEpoch()).state).toBe('ok');
    await wipe(producer);

    const scanned = gate();
    const slow = recoverFromRecords(recoverable(first, ids, (i) => (i === 0 ? scanned.wait() : Promise.resolve())));
    await scanned.reached;
    await wipe(producer);
    expect(await recoverFromRecords(recoverable(second, ids))).toMatchObject({ reEnqueued: 2, lostDuringRecovery: [] });
    scanned.release();
    expect(await slow).toMatchObject({ reEnqueued: 0, lostDuringRecovery: [0] });

    for (const id of ids) expect((await whereIs(first, id)).operations).toBe('waiting');
    expect((await first.checkEpoch()).state).toBe('ok');
  });

  // Both began before the loss: neither gives the epoch back; the next run does.
  it('neither gives the epoch back when both marks went with the loss', async () => {
    const producer = actor('producer');
    const first = actor('djq');
    const second = actor('djq-2');
    const ids = [randomUUID(), randomUUID()];
    await enqueueGets(producer, ids);
    expect((await first.checkEpoch()).state).toBe('ok');
    await wipe(producer);

    const a = gate();
    const b = gate();
    const runA = recoverFromRecords(recoverable(first, ids, (i) => (i === 1 ? a.wait() : Promise.resolve())));
    const runB = recoverFromRecords(recoverable(second, ids, (i) => (i === 1 ? b.wait() : Promise.resolve())));
    await Promise.all([a.reached, b.reached]);
    await wipe(producer);
    a.release();
    b.release();
    expect((await runA).lostDuringRecovery).toEqual([0]);
    expect((await runB).lostDuringRecovery).toEqual([0]);
    expect((await first.checkEpoch()).state).toBe('redis-lost');
    expect(await recoverFromRecords(recoverable(first, ids))).toMatchObject({ lostDuringRecovery: [] });
    for (const id of ids) expect((await whereIs(first, id)).operations).toBe('waiting');
  });
});

describe('a recovery stopped before the end (a worker shutting down)', () => {
  // Paused before its second re-add, the recovery is told to stop: it re-adds nothing more, gives
  // no epoch back (a job it had not reached is still missing), and says it was interrupted.
  it('re-adds nothing more and leaves the epoch saying Redis lost its data', async () => {
    const producer = actor('producer');
    const worker = actor('worker');
    const ids = [randomUUID(), randomUUID()];
    await enqueueGets(producer, ids);
    expect((await worker.checkEpoch()).state).toBe('ok');
    await wipe(producer);

    const stop = new AbortController();
    const second = gate();
    const recovering = recoverFromRecords(
      recoverable(worker, ids, (i) => (i === 1 ? second.wait() : Promise.resolve())),
      { signal: stop.signal },
    );
    await second.reached;
    stop.abort();
    second.release();
    expect(await recovering).toMatchObject({ interrupted: true, reEnqueued: 1, lostDuringRecovery: [] });
    expect((await whereIs(worker, ids[0] ?? '')).operations).toBe('waiting');
    expect((await whereIs(worker, ids[1] ?? '')).operations).toBe('missing');
    expect((await worker.checkEpoch()).state).toBe('redis-lost');
    // The next run finishes it.
    expect(await recoverFromRecords(recoverable(worker, ids))).toMatchObject({ reEnqueued: 1, interrupted: false });
    expect((await worker.checkEpoch()).state).toBe('ok');
  });
});

describe('djq recover --dry-run', () => {
  it('writes nothing to Redis: no mark, no job, no epoch', async () => {
    const producer = actor('producer');
    const djq = actor('djq');
    const id = randomUUID();
    await enqueueGets(producer, [id]);
    expect((await djq.checkEpoch()).state).toBe('ok');
    await wipe(producer);

    expect(await recoverFromRecords(recoverable(djq, [id]), { dryRun: true })).toMatchObject({
      reEnqueued: 1,
      lostDuringRecovery: [],
    });
    expect(await resources().redis.keys(djq.keys.everyKeyPattern)).toEqual([]);
  });
});
