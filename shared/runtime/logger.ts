// pino: JSON lines in production (machines parse them), pretty lines in a terminal (people read them).
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

export function createLogger(
  config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>,
  name: string,
  base: Record<string, unknown> = {},
): Logger {
  const pretty = config.LOG_FORMAT === 'pretty' || (config.LOG_FORMAT === 'auto' && process.stdout.isTTY === true);
  const options = {
    name,
    level: config.LOG_LEVEL,
    base: { service: name, pid: process.pid, ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: true },
      },
    });
  }
  // JSON lines written asynchronously: a synchronous write per job line was ~6% of a worker's CPU
  // (npm run bench). The buffer is bounded (a stdout nobody reads drops lines instead of growing),
  // and flushed at exit within a deadline by releaseLogs(); the logs are not the record of what
  // happened (the ledger and the job history are).
  nonBlockingStdout();
  const destination = pino.destination({ dest: 1, sync: false, maxLength: MAX_BUFFERED_LOG_BYTES });
  destinations.add(destination);
  return pino(options, destination);
}

const MAX_BUFFERED_LOG_BYTES = 16 * 1024 * 1024;

/**
 * A pipe or socket handed to us as stdout is usually in blocking mode. The async destination writes
 * on libuv's thread pool, so with a reader that stopped reading, one write blocks a pool thread for
 * good, and process.exit() then waits for that thread forever (libuv joins its pool at exit): no
 * deadline could end the process. Opening process.stdout puts the descriptor in non-blocking mode
 * (libuv's uv_pipe_open), so a full pipe answers EAGAIN, which the destination retries on a timer.
 */
function nonBlockingStdout(): void {
  const stdout = process.stdout as unknown as { isTTY?: boolean; _handle?: { setBlocking?: (b: boolean) => void } };
  if (!stdout.isTTY) stdout._handle?.setBlocking?.(false);
}
const destinations = new Set<ReturnType<typeof pino.destination>>();

/**
 * Flushes the async log destinations for at most `timeoutMs`, then lets them go. Needed before
 * process.exit: pino's own exit hook calls flushSync(), which retries forever on a pipe nobody
 * reads (EAGAIN), and would hold the process past every deadline. A destroyed destination is
 * skipped by that hook.
 */
export async function releaseLogs(timeoutMs: number): Promise<void> {
  await Promise.all(
    [...destinations].map(async (destination) => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          try {
            destination.flush(() => resolve());
          } catch {
            resolve(); // not open yet, or already broken: nothing to wait for
          }
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      destination.destroy();
      destinations.delete(destination);
    }),
  );
}
