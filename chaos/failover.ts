// What the failover scenarios (cluster, sentinel) share: waiting on a condition until a deadline,
// the processes that died (what a supervisor would have restarted), and seconds as they print them.
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunning, type Service } from './processes.js';

/** Polls `check` every 100 ms until it holds (true) or `giveUpAt` passes (false). */
export async function pollUntil(check: () => Promise<boolean>, giveUpAt: number): Promise<boolean> {
  for (;;) {
    if (await check()) return true;
    if (Date.now() > giveUpAt) return false;
    await sleep(100);
  }
}

/** Processes that exited, other than the producer's exit 0 at its MAX_OPERATIONS. */
export function diedServices(services: readonly Service[]): Service[] {
  return services.filter((s) => !isRunning(s.process) && !(s.name === 'producer' && s.process.exitCode === 0));
}

export const seconds = (ms: number | undefined) => (ms === undefined ? '?' : (ms / 1000).toFixed(1));
