// What an idle fleet costs Redis: N worker processes (worker/main.ts as npm start runs them, the
// production intervals) with nothing to do, and the commands per second Redis executes for them
// (INFO commandstats deltas over a window, on the bench's own redis-server, which nothing else
// uses meanwhile), measured once every worker but the shard's watcher stands by
// (WORKER_STANDBY_AFTER_MS). Rounds alternate a fleet of 1 and of 8, so noise hits both alike.
// The target: idle load that does not grow with the fleet (8 idle ≤ 1.5× 1 idle).
import { setTimeout as sleep } from 'node:timers/promises';
import { readRedisStats, statsDelta } from '../redis-stats.js';
import { progress } from '../report.js';
import { startWorkers, withRunQueue } from '../run-queue.js';
import { type BenchServices, medianPair, type Pairing, round, runConfigWithTable } from '../support.js';

export interface IdleFleetRun {
  workers: number;
  seconds: number;
  commandsPerSec: number;
  /** Commands per second by name (scripts' own commands under their names; evalsha once per script call). */
  byCommand: Record<string, number>;
}

export interface IdleFleetResult {
  seconds: number;
  rounds: { one: IdleFleetRun; eight: IdleFleetRun }[];
  /** 8 idle workers' commands/s ÷ 1 idle worker's (target ≤ 1.5). */
  ratio: Pairing;
}

/** After the last worker registers: start-up's own commands (script loads, epoch checks) end. */
const SETTLE_MS = 3000;
/** BullMQ's drainDelay (5 s): a blocking fetch out as a worker stands by returns within it. */
const BLOCKING_FETCH_MS = 5000;

interface IdleOptions {
  seconds: number;
  /** WORKER_STANDBY_AFTER_MS of the run (unset: the production default); --quick shortens it. */
  standbyAfterMs?: number;
}

async function idleRun(services: BenchServices, workers: number, options: IdleOptions): Promise<IdleFleetRun> {
  const { seconds, standbyAfterMs } = options;
  const overrides: Record<string, number> =
    standbyAfterMs === undefined ? {} : { WORKER_STANDBY_AFTER_MS: standbyAfterMs };
  const { config, env } = await runConfigWithTable(services, `idle${workers}`, overrides);
  return withRunQueue(services, config, async (run) => {
    await startWorkers(run, workers, env, () => progress('idle fleet', `${workers} worker(s) starting`));
    // An idle fleet is one that has been idle a while: every worker but the watcher stands by.
    await sleep(SETTLE_MS + config.WORKER_STANDBY_AFTER_MS + BLOCKING_FETCH_MS);
    progress('idle fleet', `${workers} worker(s) idle for ${seconds} s`);
    const before = await readRedisStats(services.control);
    await sleep(seconds * 1000);
    const delta = statsDelta(before, await readRedisStats(services.control));
    const perSec = (n: number) => round(n / seconds, 2);
    return {
      workers,
      seconds,
      commandsPerSec: perSec(delta.calls),
      byCommand: Object.fromEntries(
        [...delta.byCommand].sort((a, b) => b[1].calls - a[1].calls).map(([name, s]) => [name, perSec(s.calls)]),
      ),
    };
  });
}

export async function idleFleet(
  services: BenchServices,
  options: IdleOptions & { rounds: number },
): Promise<IdleFleetResult> {
  const rounds: IdleFleetResult['rounds'] = [];
  for (let i = 0; i < options.rounds; i++) {
    const one = await idleRun(services, 1, options);
    const eight = await idleRun(services, 8, options);
    rounds.push({ one, eight });
  }
  return {
    seconds: options.seconds,
    rounds,
    ratio: medianPair(rounds.map((r) => r.eight.commandsPerSec / Math.max(r.one.commandsPerSec, 0.01))),
  };
}
