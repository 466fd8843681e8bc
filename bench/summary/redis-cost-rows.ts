// The table's rows about what Redis spends: an idle fleet's commands per second, and (redis-cost)
// the Redis work per job of the project beside raw BullMQ with the same job options.
import type { Row } from '../report.js';
import type { IdleFleetResult } from '../sections/idle-fleet.js';
import { median } from '../support.js';
import { check, spread } from './figures.js';

export function idleFleetRows(r: IdleFleetResult): Row[] {
  const med = (pick: (round: IdleFleetResult['rounds'][number]) => number) => median(r.rounds.map(pick)) as number;
  return [
    [
      `Idle fleet: Redis commands/s, 8 workers vs 1 (${r.seconds} s each, ${r.rounds.length} pair(s))`,
      med((x) => x.eight.commandsPerSec).toFixed(1),
      `1 worker ${med((x) => x.one.commandsPerSec).toFixed(1)}`,
      spread(r.ratio),
      `<= 1.5${check(r.ratio.ratio <= 1.5)}`,
    ],
  ];
}
