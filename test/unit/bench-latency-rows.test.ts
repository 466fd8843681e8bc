// The latency section's rows: they say where the worker ran and each process's wait for a core,
// and an older result (worker in the bench's process, without those figures) still prints.
import { describe, expect, it } from 'vitest';
import type { RuntimeStats } from '../../bench/runtime-stats.js';
import type { LatencyResult } from '../../bench/sections/latency.js';
import { latencyRows } from '../../bench/summary/load-rows.js';

const runtime: RuntimeStats = {
  eventLoopDelayMs: { p50: 1, p99: 20, max: 40 },
  gc: { count: 100, totalMs: 300, maxMs: 12, shareOfWall: 0.01, over10ms: 2, byKind: {} },
  cpuShareOfWall: 0.4,
  mainThread: { runShareOfWall: 0.35, waitShareOfWall: 0.5 },
};

const older: LatencyResult = {
  offeredPerSec: 200,
  seconds: 30,
  measuredJobs: 6000,
  achievedPerSec: 180,
  p50: 10,
  p95: 30,
  p99: 60,
  max: 90,
  stepsMsPerJob: {},
  ownMs: { p50: 3, p99: 20, max: 40, dynamoP50: 5, dynamoP99: 30 },
  runtime: { eventLoopDelayMs: runtime.eventLoopDelayMs, gc: runtime.gc },
};

const measures = (result: LatencyResult) => latencyRows(result, '', '').map((row) => row[0]);

describe('latencyRows', () => {
  it('names the worker in a process of its own and gives each process its wait for a core', () => {
    const rows = latencyRows(
      {
        ...older,
        placement: 'child',
        runtime,
        benchRuntime: runtime,
        dynalite: { cpuShareOfWall: 0.3, mainThread: { runShareOfWall: 0.25, waitShareOfWall: 0.45 } },
        failedJobs: 2,
        mutexWaits: { runs: 5000, waited1ms: 40, p99Ms: 0.8, maxMs: 150 },
      },
      '',
      '',
    );

    expect(rows.map((row) => row[0])).toEqual(
      expect.arrayContaining([
        'Latency: worker (a process of its own) event-loop delay',
        'Latency: worker process CPU (all threads)',
        'Latency: bench (producer) process CPU (all threads)',
        'Latency: dynalite process CPU (all threads)',
        "Latency: writers' waits for their user's turn (worker's KeyedMutex)",
      ]),
    );
    const dynalite = rows.find((row) => row[0].startsWith('Latency: dynalite'));
    expect(dynalite?.[2]).toBe('main thread on a core 25%, waiting for one 45% of the time');
    expect(rows[0]?.[2]).toContain('2 more failed for good');
  });

  it('prints an older result, whose worker shared the bench process, without the new rows', () => {
    const names = measures(older);

    expect(names).toContain('Latency: worker (in the bench process, beside the producer) event-loop delay');
    expect(names.some((name) => name.includes('CPU'))).toBe(false);
  });
});
