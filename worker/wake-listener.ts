// One subscriber connection per worker process, on the "new work" channel of each shard it consumes
// (shared/lifecycle/wake-signal.ts), waking that shard's standby. While nothing is published it
// costs Redis no command at all, which is the point. ioredis subscribes again after a reconnect (a
// failover included). While it is not subscribed, `listening` is false and no worker stands by (a
// worker standing by then fetches again): a worker never waits for a signal that cannot reach it.
// A lost connection wakes every shard at once, and so does its return: ioredis reconnects within
// a fraction of a second, between two standby checks, and a signal published meanwhile is lost.
import { Cluster } from 'ioredis';
import { withDeadline } from '../shared/runtime/deadline.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { RedisConnection } from '../shared/runtime/redis.js';

export interface WakeListener {
  /** Whether signals reach this process now: subscribed, on a connection that is up. */
  readonly listening: boolean;
  /** Unsubscribes and closes the connection, within `deadline` (epoch ms); past it, drops it. */
  close(deadline: number): Promise<void>;
}

/** The subscriber's name in CLIENT LIST (a single Redis or Sentinel's master; a cluster names its own). */
export const wakeConnectionName = (workerId: string) => `djq-wake:${workerId}`.replace(/\s/g, '_');

export function listenForWakes(
  redis: RedisConnection,
  /** Each channel's wake, told why. */
  wakes: ReadonlyMap<string, (why: string) => void>,
  logger: Logger,
  workerId = 'worker',
): WakeListener {
  const subscriber =
    redis instanceof Cluster ? redis.duplicate() : redis.duplicate({ connectionName: wakeConnectionName(workerId) });
  let subscribed = false;
  let listening = false;
  /** Whether the connection was lost since it last listened: its return wakes every shard too. */
  let lost = false;
  let closing = false;
  const wakeAll = (why: string) => {
    for (const wake of wakes.values()) wake(why);
  };
  subscriber.on('error', (error: Error) =>
    logger.debug({ err: error }, 'new-work subscription interrupted; it subscribes again on reconnect'),
  );
  // ioredis re-subscribes before 'ready' on a reconnect; 'close' comes with every lost connection.
  subscriber.on('close', () => {
    const was = listening;
    listening = false;
    if (!was || closing) return;
    lost = true;
    wakeAll('its new-work subscription was lost (a signal sent now cannot reach it)');
  });
  subscriber.on('ready', () => {
    listening = subscribed;
    if (!listening || !lost || closing) return;
    lost = false;
    wakeAll('its new-work subscription is back (a signal sent while it was down was lost)');
  });
  subscriber.on('message', (channel: string) => wakes.get(channel)?.('new work was signalled'));
  subscriber.subscribe(...wakes.keys()).then(
    () => {
      subscribed = true;
      listening = subscriber.status === 'ready';
    },
    (error: unknown) => logger.warn({ err: error }, 'could not subscribe to new-work signals; no worker stands by'),
  );
  return {
    get listening() {
      return listening;
    },
    async close(deadline) {
      closing = true;
      listening = false;
      const quit = await withDeadline(
        subscriber.quit().catch(() => undefined),
        deadline,
      );
      if (!quit) subscriber.disconnect();
    },
  };
}
