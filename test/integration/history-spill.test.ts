// History survives an incident: while DynamoDB refuses every write, what a process cannot hold and
// what is left at its shutdown waits in Redis (bounded), and the next recorder to flush takes it
// back. Real Redis; the table's outage is a store that throws until it is "back".
import { describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../shared/lifecycle/history.js';
import { HistoryRecorder } from '../../shared/lifecycle/history.js';
import { RedisHistorySpill } from '../../shared/lifecycle/history-spill.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { MemoryJobHistory } from '../../shared/store/memory-stores.js';
import type { JobHistoryStore } from '../../shared/store/types.js';
import { testEnv, useTestResources } from '../helpers/stack.js';

const env = testEnv();
const resources = useTestResources(env);

const entry = (jobId: string): HistoryEntry => ({ type: 'enqueued', jobId, at: new Date().toISOString() });

/** A history table that is down until `up` is set. */
function outage(store: MemoryJobHistory): JobHistoryStore & { up: boolean } {
  const table = {
    up: false,
    write: async (entries: readonly HistoryEntry[]) => {
      if (!table.up) throw new Error('DynamoDB unavailable');
      await store.write(entries);
    },
    list: (jobId: string) => store.list(jobId),
  };
  return table;
}

describe('job history during a DynamoDB outage', () => {
  it('is kept in Redis and written once the table is back: nothing dropped', async () => {
    const spill = new RedisHistorySpill(resources().redis, queueKeys(env.config).historySpill);
    const table = new MemoryJobHistory();
    const down = outage(table);
    const worker = new HistoryRecorder({ store: down, flushIntervalMs: 60_000, maxBuffered: 20, spill });
    for (let i = 0; i < 50; i++) worker.record(entry(`j${i}`));
    await worker.flush(); // fails: the table is down
    await worker.close(); // its shutdown: what is left goes to Redis too
    expect(worker.dropped).toBe(0);
    expect(await resources().redis.llen(queueKeys(env.config).historySpill)).toBe(50);

    // Another process, later, with the table back: each successful flush takes a batch back.
    down.up = true;
    const next = new HistoryRecorder({ store: down, flushIntervalMs: 60_000, maxBuffered: 20, spill });
    for (let round = 0; round < 3; round++) {
      next.record(entry(`new${round}`));
      await next.flush();
    }
    await next.close();
    const ids = table.entries.map((e) => e.jobId);
    expect(ids.filter((id) => id.startsWith('j')).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `j${i}`).sort());
    expect(new Set(ids).size).toBe(ids.length); // none twice
  });
});

describe('looking at the spill', () => {
  /** A spill that counts its takes. */
  function countedSpill() {
    const spill = new RedisHistorySpill(resources().redis, `${queueKeys(env.config).historySpill}:counted`);
    const looks = { count: 0 };
    return {
      looks,
      spill: {
        push: (entries: readonly HistoryEntry[]) => spill.push(entries),
        take: (count: number) => {
          looks.count += 1;
          return spill.take(count);
        },
      },
    };
  }

  it('after a look that found it empty, the next flushes only write; a spill of its own ends the wait', async () => {
    const { spill, looks } = countedSpill();
    const table = new MemoryJobHistory();
    const down = outage(table);
    down.up = true;
    // The recheck an hour away: no flush of this test may look again by the clock.
    const recorder = new HistoryRecorder({
      store: down,
      flushIntervalMs: 60_000,
      maxBuffered: 2,
      spill,
      spillRecheckMs: 3_600_000,
    });
    recorder.record(entry('a'));
    await recorder.flush();
    expect(looks.count).toBe(1); // empty
    recorder.record(entry('b'));
    await recorder.flush();
    expect(looks.count).toBe(1);

    // The table goes down; the buffer (2 at most) overflows into the spill.
    down.up = false;
    for (const id of ['c', 'd', 'e', 'f']) recorder.record(entry(id));
    await recorder.flush();
    down.up = true;
    recorder.record(entry('g'));
    await recorder.flush();
    expect(looks.count).toBe(2); // this process spilled: it looks again at once, and takes its entries
    await recorder.close();
    expect(table.entries.map((e) => e.jobId).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });
});
