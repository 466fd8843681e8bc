// How every process ends: a first SIGINT/SIGTERM starts a graceful stop bounded by a deadline, past
// which the process exits anyway; a second signal exits at once; a lost parent (npm start died, or
// the process that started `npm start` did) counts as a signal. No exit waits on a log flush
// beyond a short bound (see releaseLogs), nor on a trace collector.
import { tracing } from '../telemetry/tracing.js';
import type { Logger } from './logger.js';
import { releaseLogs } from './logger.js';

/** The most an exit waits for buffered log lines. */
const LOG_FLUSH_MS = 2000;

let exiting = false;

/** The most an exit waits for buffered spans to reach the collector (tracing on only). */
const TRACE_FLUSH_MS = 2000;

/**
 * Flushes logs and buffered spans (each bounded: `flushMs` for the logs), then exits. The first call
 * wins, except that a call with `flushMs` 0 (a deadline passed, a second signal) exits now even while
 * an earlier flush waits.
 */
export function exitProcess(code: number, flushMs = LOG_FLUSH_MS): void {
  if (exiting && flushMs > 0) return;
  exiting = true;
  void Promise.all([releaseLogs(flushMs), tracing().flush(flushMs === 0 ? 0 : TRACE_FLUSH_MS)]).finally(() =>
    process.exit(code),
  );
}

/**
 * Calls `stop` once on the first SIGINT/SIGTERM and exits with the code it returns. If `stop` has
 * not finished `deadlineMs` after the signal (SHUTDOWN_TIMEOUT_MS), the process exits 1 anyway:
 * abandoned jobs stall and are run again, idempotently. A second signal exits 130 at once.
 */
export function onShutdownSignal(
  logger: Logger,
  deadlineMs: number,
  stop: (signal: string) => Promise<number>,
): (signal: string) => void {
  let stopping = false;
  const begin = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      exitProcess(130, 0);
      return;
    }
    stopping = true;
    const deadlineAt = Date.now() + deadlineMs;
    /** The log flush fits in what is left of the deadline. */
    const flushBudget = () => Math.max(0, Math.min(LOG_FLUSH_MS, deadlineAt - Date.now()));
    logger.info({ signal, deadlineMs }, 'shutting down');
    setTimeout(() => {
      logger.error({ deadlineMs }, `did not stop within ${deadlineMs} ms (SHUTDOWN_TIMEOUT_MS): exiting anyway`);
      exitProcess(1, 0);
    }, deadlineMs);
    stop(signal).then(
      (code) => exitProcess(code, flushBudget()),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exitProcess(1, flushBudget());
      },
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => begin(signal));
  return begin;
}

/** How often a process looks whether its parent is still there. */
const PARENT_CHECK_MS = 1000;

/**
 * The parent this process started under, read when this module loads: a process watches its parent
 * only once started up, and by then an orphan has been re-parented already.
 */
const startupParent = process.ppid;

/**
 * Stops the process (as on SIGTERM) when its parent is gone: a child of `npm start` whose IPC
 * channel closed, or `npm start` itself when the npm (or shell, or supervisor) that started it
 * died or was signalled without passing the signal on. An orphan is re-parented, so its ppid changes.
 */
export function stopWhenParentExits(stop: (signal: string) => void): void {
  if (process.send) {
    // The channel may have closed during start-up, before anyone listened: 'disconnect' fires once.
    if (!process.connected) {
      stop('parent-disconnected');
      return;
    }
    process.on('disconnect', () => stop('parent-disconnected'));
  }
  const parent = startupParent;
  if (parent <= 1) return; // started by init or a container runtime: it has no parent to outlive
  if (process.ppid !== parent) {
    stop('parent-exited');
    return;
  }
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      stop('parent-exited');
    }
  }, PARENT_CHECK_MS);
  timer.unref();
}

/** Logs a start-up failure as one readable line and exits 1. */
export function exitOnStartupError(logger: Logger, error: unknown): void {
  logger.fatal({ err: error }, (error as Error).message);
  exitProcess(1);
}

/**
 * Watches the parent from the first line of a service's start-up: a start-up stuck on a backend
 * that never answers (a DynamoDB table check, Redis) must not outlive the stack that started it.
 * Until the service hands over its own stop, a lost parent exits the process at once.
 */
export function watchParentFromStart(): (stop: (signal: string) => void) => void {
  let target: (signal: string) => void = () => exitProcess(1, 0);
  stopWhenParentExits((signal) => target(signal));
  return (stop) => {
    target = stop;
  };
}
