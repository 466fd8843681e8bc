// Quick in-process retries of transient DynamoDB trouble (throttling, 5xx, network), for the few
// places outside a job's own BullMQ retries: start-up checks and the dead-letter mover.
import { setTimeout as sleep } from 'node:timers/promises';
import { classifyError } from './errors.js';

const TRANSIENT = new Set(['throttled', 'server', 'network']);

/** Runs `fn` again while it fails transiently; anything else (no table, no credentials) is thrown at once. */
export async function retryTransient<T>(fn: () => Promise<T>, attempts = 8, baseDelayMs = 100): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= attempts || !TRANSIENT.has(classifyError(error).kind)) throw error;
      await sleep(Math.min(baseDelayMs * 2 ** (attempt - 1), 5000));
    }
  }
}
