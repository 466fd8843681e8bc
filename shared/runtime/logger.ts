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
  // (npm run bench). pino flushes on exit; only a kill -9 can lose the last lines, and the logs
  // are not the record of what happened (the ledger and the job history are).
  return pino(options, pino.destination({ dest: 1, sync: false }));
}
