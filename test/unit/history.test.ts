import { describe, expect, it } from 'vitest';
import { HistoryRecorder, statusOf, type HistoryEntry } from '../../shared/history.js';
import { MemoryJobHistory } from '../../shared/store/memory-stores.js';

const entry = (jobId: string): HistoryEntry => ({ type: 'enqueued', jobId, at: new Date().toISOString() });

describe('HistoryRecorder', () => {
  it('buffers, flushes everything on close, and stays bounded', async () => {
    const store = new MemoryJobHistory();
    const recorder = new HistoryRecorder({ store, flushIntervalMs: 60_000, maxBuffered: 30 });
    for (let i = 0; i < 10; i++) recorder.record(entry(`j${i}`));
    expect(store.entries).toHaveLength(0);
    await recorder.close();
    expect(store.entries).toHaveLength(10);
  });

  it('drops the oldest past the bound and never throws when the store fails', async () => {
    const errors: number[] = [];
    const recorder = new HistoryRecorder({
      store: { write: async () => Promise.reject(new Error('dynamo down')), list: async () => [] },
      flushIntervalMs: 60_000,
      maxBuffered: 25,
      onError: (_e, lost) => errors.push(lost),
    });
    for (let i = 0; i < 24; i++) recorder.record(entry(`j${i}`));
    recorder.pending; // under a full batch: nothing flushed yet
    for (let i = 0; i < 40; i++) recorder.record(entry(`k${i}`));
    await recorder.close();
    expect(errors.reduce((a, b) => a + b, 0) + recorder.dropped).toBe(64);
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
});
