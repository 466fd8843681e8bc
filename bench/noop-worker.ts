// The raw BullMQ baseline: a Worker with a no-op processor draining a queue. It imports BullMQ alone,
// no project code, so it also runs on a Node the project refuses (the node-versions section runs it
// as a child process on Node 20); queue-overhead and worker-profile run it in the bench's process.
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';

export interface NoOpDrain {
  queueName: string;
  prefix: string;
  concurrency: number;
  /** Jobs in the queue: the drain ends when this many have completed. */
  jobs: number;
}

/** Resolves with the ms from the worker's creation to its last completion (the worker closed). */
export function drainWithNoOpWorker(
  connection: Redis,
  drain: NoOpDrain,
  onProgress: (done: number) => void = () => undefined,
): Promise<number> {
  const started = performance.now();
  let done = 0;
  return new Promise<number>((resolve) => {
    const worker = new Worker(drain.queueName, async () => undefined, {
      connection,
      prefix: drain.prefix,
      concurrency: drain.concurrency,
    });
    worker.on('completed', () => {
      done += 1;
      if (done % 1000 === 0) onProgress(done);
      if (done === drain.jobs) {
        const elapsed = performance.now() - started;
        void worker.close().then(() => resolve(elapsed));
      }
    });
  });
}
