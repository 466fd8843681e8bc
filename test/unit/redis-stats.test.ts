// The bench's reading of INFO commandstats: deltas per command, and a job's Redis time counted once
// (a script's usec already holds the commands it ran, which commandstats also counts by name).
import { describe, expect, it } from 'vitest';
import { commandStats, statsDelta } from '../../bench/redis-stats.js';
import { topLevelMicros } from '../../bench/sections/redis-cost.js';

const info = (lines: string[]) => `# Commandstats\r\n${lines.join('\r\n')}\r\n`;

describe('commandstats', () => {
  it('reads calls and µs per command, leaving out the measurement own commands', () => {
    const stats = commandStats(
      info([
        'cmdstat_xadd:calls=10,usec=50,usec_per_call=5.00,rejected_calls=0,failed_calls=0',
        'cmdstat_info:calls=3,usec=90,usec_per_call=30.00,rejected_calls=0,failed_calls=0',
        'cmdstat_config|resetstat:calls=1,usec=9,usec_per_call=9.00,rejected_calls=0,failed_calls=0',
      ]),
    );
    expect([...stats]).toEqual([['xadd', { calls: 10, usec: 50 }]]);
  });

  it('subtracts two readings per command, leaving out commands with no new calls', () => {
    const before = {
      commands: commandStats(info(['cmdstat_get:calls=5,usec=10', 'cmdstat_set:calls=2,usec=4'])),
      cpuSeconds: 1,
    };
    const after = {
      commands: commandStats(
        info(['cmdstat_get:calls=9,usec=18', 'cmdstat_set:calls=2,usec=4', 'cmdstat_del:calls=1,usec=3']),
      ),
      cpuSeconds: 1.5,
    };
    const delta = statsDelta(before, after);
    expect(Object.fromEntries(delta.byCommand)).toEqual({ get: { calls: 4, usec: 8 }, del: { calls: 1, usec: 3 } });
    expect(delta).toMatchObject({ calls: 5, usec: 11, cpuSeconds: 0.5 });
  });
});

describe("a job's Redis µs", () => {
  it('counts each script call once, and the plain commands sent directly at their mean µs', () => {
    const byCommand = new Map([
      ['evalsha', { calls: 2, usec: 100 }], // two scripts, whose 100 µs include their XADDs and GETs
      ['xadd', { calls: 5, usec: 50 }], // 4 inside the scripts, 1 sent directly
      ['get', { calls: 3, usec: 6 }], // all inside the scripts
      ['exec', { calls: 1, usec: 40 }], // holds what it ran, counted under those names
    ]);
    const sent = new Map([
      ['moveToFinished', 1],
      ['djqFlowTick', 1],
      ['xadd', 1],
      ['exec', 1],
    ]);
    expect(topLevelMicros(byCommand, sent)).toBe(100 + 10);
  });
});
