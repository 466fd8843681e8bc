// One subscriber connection per worker process, on the "new work" channel of each shard it consumes
// (shared/lifecycle/wake-signal.ts), waking that shard's standby. While nothing is published it
// costs Redis no command at all, which is the point. ioredis subscribes again after a reconnect (a
// failover included). While it is not subscribed, `listening` is false and no worker stands by (a
// worker standing by then fetches again): a worker never waits for a signal that cannot reach it.
import { withDeadline } from '../shared/runtime/deadline.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { RedisConnection } from '../shared/runtime/redis.js';

export interface WakeListener {
  /** Whether signals reach this process now: subscribed, on a connection that is up. */
  readonly listening: boolean;
  /** Unsubscribes and closes the connection, within `deadline` (epoch ms); past it, drops it. */
  close(deadline: number): Promise<void>;
}

export function listenForWakes(
  redis: RedisConnection,
  wakes: ReadonlyMap<string, () => void>,
  logger: Logger,
): WakeListener {
  const subscriber = redis.duplicate();
  let subscribed = false;
  let listening = false;
  subscriber.on('error', (error: Error) =>
    logger.debug({ err: error }, 'new-work subscription interrupted; it subscribes again on reconnect'),
  );
  // ioredis re-subscribes before 'ready' on a reconnect; 'close' comes with every lost connection.
  subscriber.on('close', () => {
    listening = false;
  });
  subscriber.on('ready', () => {
    listening = subscribed;
  });
  subscriber.on('message', (channel: string) => wakes.get(channel)?.());
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
      listening = false;
      const quit = await withDeadline(
        subscriber.quit().catch(() => undefined),
        deadline,
      );
      if (!quit) subscriber.disconnect();
    },
  };
}
