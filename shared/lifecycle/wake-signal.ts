// "New work on this shard": a pub/sub message that wakes the workers standing by (worker/standby.ts).
// A worker idle for a while stops polling Redis unless it watches the shard (holds
// its sweep lease); its BullMQ fetch loop alone costs Redis ~1.6 commands/s, so an idle fleet's
// load would grow with the fleet. Whoever adds work signals: every process that enqueues, redrives
// or recovers jobs (wakeOnNewWork), and the watcher as it starts jobs (delayed retries, and jobs a
// board or another tool added, reach only it). A signal is only a hint: a lost one costs a delay,
// never a job, because the watcher keeps fetching and the next signal wakes the rest.
import type { RedisConnection } from '../runtime/redis.js';
import type { Transition, TransitionType } from './transition.js';

/** At most one message a second per process and shard: under load the signal costs next to nothing. */
export const WAKE_SIGNAL_EVERY_MS = 1000;

export class WakeSignal {
  private lastSentAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly redis: RedisConnection,
    readonly channel: string,
    private readonly onError: (error: unknown) => void,
    private readonly everyMs = WAKE_SIGNAL_EVERY_MS,
  ) {}

  /** Publishes "new work", unless this process did less than `everyMs` ago. Never waits, never throws. */
  signal(): void {
    const at = Date.now();
    if (at - this.lastSentAt < this.everyMs) return;
    this.lastSentAt = at;
    this.redis.publish(this.channel, String(at)).catch(this.onError);
  }
}

/** The transitions that put jobs in the queue for a worker to take. */
const NEW_WORK: ReadonlySet<TransitionType> = new Set(['enqueued', 'recovered', 'redriven']);

/** Signals on every transition that adds work: a subscriber of the lifecycle, as history and logs are. */
export function wakeOnNewWork(
  lifecycle: { onTransition(listener: (t: Transition) => void): () => void },
  wake: WakeSignal,
): () => void {
  return lifecycle.onTransition((t) => {
    if (NEW_WORK.has(t.type)) wake.signal();
  });
}
