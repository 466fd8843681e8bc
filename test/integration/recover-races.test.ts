// Orders of operations on one job id that tried to break "Redis is a rebuildable cache": `djq
// recover` (recoverFromRecords) against a move, a redrive and a second loss of Redis, each forced
// by gates (a recovery paused between its scan of the table and its re-adds, a paused DynamoDB
// call): no sleeps.

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkDecisions } from '../../shared/operator/check-decisions.js';
import { recoverFromRecords } from '../../shared/operator/recover.js';
import type { JobRecord, JobRecordStore } from '../../shared/store/types.js';
import type { JobSystem, ShardedJobSystem } from '../../shared/wiring.js';
import { failNext, gate, noEffect, useRaceActors, whereIs } from '../helpers/interleave.js';
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
    stores: { ...system.stores, jobs },
    history: system.history,
    close: async () => undefined,
  };
}

const wipe = (system: JobSystem) => deleteKeys(resources().redis, system.keys.everyKeyPattern);

describe('djq recover against a move of an instance from before the loss', () => {
  // Recovery reads the job accepted and undecided; before it re-adds it, a move of the failed
  // instance a worker read before Redis lost the queue decides it dead-lettered (its Redis half
  // finds no instance: 'gone'). Recovery's re-add finds it decided and skips it: nobody puts
  // back its DLQ entry, and `djq check` does not look for one.
  it('leaves the job decided dead-lettered with its DLQ entry', async () => {
    const worker = actor('worker');
    const djq = actor('djq');
    const id = randomUUID();
    await worker.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: id } }]);
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
    await worker.lifecycle.enqueue([{ id, name: 'get-user', data: { userId: id } }]);
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
    await producer.lifecycle.enqueue(ids.map((id) => ({ id, name: 'get-user', data: { userId: id } })));
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
