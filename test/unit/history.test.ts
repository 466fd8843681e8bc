import { describe, expect, it } from 'vitest';
import { type HistoryEntry, HistoryRecorder, statusOf } from '../../shared/lifecycle/history.js';
import { HistoryWriteError } from '../../shared/store/errors.js';
import { MemoryJobHistory } from '../../shared/store/memory-stores.js';

const entry = (jobId: string): HistoryEntry => ({ type: 'enqueued', jobId, at: new Date().toISOString() });

/** A recorder over a store that writes with `write` and lists nothing, flushing only when asked or full. */
const recorderWriting = (
  write: (entries: HistoryEntry[]) => Promise<void>,
  options: { maxBuffered: number; onError?: (error: unknown, pending: number, streak: number) => void },
) => new HistoryRecorder({ store: { write, list: async () => [] }, flushIntervalMs: 60_000, ...options });

describe('HistoryRecorder', () => {
  it('buffers, flushes everything on close, and stays bounded', async () => {
    const store = new MemoryJobHistory();
    const recorder = new HistoryRecorder({ store, flushIntervalMs: 60_000, maxBuffered: 30 });
    for (let i = 0; i < 10; i++) recorder.record(entry(`j${i}`));
    expect(store.entries).toHaveLength(0);
    await recorder.close();
    expect(store.entries).toHaveLength(10);
  });

  it('keeps failed batches for the next flush, bounded, and never throws', async () => {
    let failing = true;
    const written: HistoryEntry[] = [];
    const recorder = recorderWriting(
      async (entries) => {
        if (failing) throw new Error('dynamo down');
        written.push(...entries);
      },
      { maxBuffered: 30 },
    );
    for (let i = 0; i < 40; i++) recorder.record(entry(`j${i}`));
    await recorder.flush();
    expect(recorder.pending).toBe(30);
    expect(recorder.dropped).toBe(10);
    failing = false;
    await recorder.close();
    expect(written.map((e) => e.jobId)).toEqual(Array.from({ length: 30 }, (_, i) => `j${i + 10}`));
  });

  it('backs off after a failed write: a full batch waits for the backoff, an explicit flush does not', async () => {
    let writes = 0;
    const streaks: number[] = [];
    const recorder = recorderWriting(
      async () => {
        writes += 1;
        throw new Error('ProvisionedThroughputExceededException');
      },
      { maxBuffered: 1000, onError: (_error, _pending, streak) => streaks.push(streak) },
    );
    for (let i = 0; i < 25; i++) recorder.record(entry(`a${i}`)); // a full batch: flushes early
    await recorder.flush(); // the early flush's promise
    expect(writes).toBe(1);
    for (let i = 0; i < 25; i++) recorder.record(entry(`b${i}`)); // full again, but inside the backoff
    expect(writes).toBe(1);
    await recorder.flush();
    expect(writes).toBe(2);
    expect(streaks).toEqual([1, 2]);
    expect(recorder.pending).toBe(50);
  });

  it('keeps for the next flush only what a write stopped part-way did not store', async () => {
    const written: string[] = [];
    let failPartWay = true;
    const recorder = recorderWriting(
      async (entries) => {
        if (failPartWay) {
          failPartWay = false;
          written.push(...entries.slice(0, 3).map((e) => e.jobId));
          throw new HistoryWriteError(entries.slice(3), { cause: new Error('throttled') });
        }
        written.push(...entries.map((e) => e.jobId));
      },
      { maxBuffered: 100 },
    );
    for (let i = 0; i < 5; i++) recorder.record(entry(`j${i}`));
    await recorder.flush();
    expect(recorder.pending).toBe(2);
    await recorder.close();
    expect(written).toEqual(['j0', 'j1', 'j2', 'j3', 'j4']);
  });

  it('gives up at shutdown when the store stays down, counting what it lost', async () => {
    const recorder = recorderWriting(async () => Promise.reject(new Error('down')), { maxBuffered: 100 });
    for (let i = 0; i < 5; i++) recorder.record(entry(`j${i}`));
    await recorder.close();
    expect(recorder.pending).toBe(0);
    expect(recorder.dropped).toBe(5);
  });

  it('derives the job status from its entries', () => {
    const at = new Date().toISOString();
    expect(
      statusOf([
        { type: 'enqueued', jobId: 'j', at },
        { type: 'attempt-started', jobId: 'j', at, attempt: 1 },
        { type: 'attempt-failed', jobId: 'j', at, attempt: 1, errorClass: 'X', message: 'm', retryable: true },
      ]),
    ).toBe('retrying');
    expect(statusOf([{ type: 'dead-lettered', jobId: 'j', at, reason: 'r', attempts: 1 }])).toBe('dead-lettered');
  });

  it('does not let a spill that never answers hold its flushes', async () => {
    const store = new MemoryJobHistory();
    const recorder = new HistoryRecorder({
      store,
      flushIntervalMs: 60_000,
      maxBuffered: 100,
      spill: { push: async () => 0, take: () => new Promise<HistoryEntry[]>(() => undefined) },
    });
    recorder.record(entry('a'));
    await recorder.flush(); // resolves past the take's deadline
    recorder.record(entry('b'));
    await recorder.flush();
    expect(store.entries.map((e) => e.jobId)).toEqual(['a', 'b']);
  });
});
