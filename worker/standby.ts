// A worker standing by. After WORKER_STANDBY_AFTER_MS without starting a job, a worker that does
// not watch its shard (hold the shard's sweep lease) pauses its BullMQ fetch loop: idle, that loop
// costs Redis ~1.6 commands/s a worker, so an idle fleet's load grew with the fleet
// (docs/redis-cost.md). It fetches again on a "new work" signal (shared/lifecycle/wake-signal.ts)
// or once it takes the lease. The watcher never stands by: it keeps fetching, so a job nobody
// signalled (a delayed retry coming due, a retry from Bull Board) still starts, and it signals the
// others as it starts jobs. Pausing stops only the fetching: jobs in flight finish and nothing in
// Redis changes, so standing by can delay a job (until a signal, or until the watcher's lease
// expires if it hangs), never lose one.
import type { WakeSignal } from '../shared/lifecycle/wake-signal.js';
import type { Logger } from '../shared/runtime/logger.js';

/** What standing by needs of a BullMQ Worker (its own methods: pause(true) does not wait for jobs). */
export interface StandbyWorker {
  pause(doNotWaitActive?: boolean): Promise<void>;
  resume(): Promise<void>;
  isPaused(): boolean;
  on(event: 'active', listener: () => void): unknown;
}

export interface StandbyDeps {
  worker: StandbyWorker;
  /** Whether this worker watches the shard now (holds its sweep lease): a watcher never stands by. */
  watching: () => boolean;
  wake: WakeSignal;
  /** Whether a signal can reach this worker now (wake-listener.ts): if not, it never stands by. */
  reachable: () => boolean;
  /** WORKER_STANDBY_AFTER_MS; 0: never stand by. */
  afterMs: number;
  logger: Logger;
}

/** How often the idle time and the lease are looked at: a local check, no Redis call. */
const CHECK_EVERY_MS = 1000;

export class Standby {
  /** Times this worker stood by, and was woken (tests and the bench read them). */
  standbys = 0;
  wakes = 0;
  /** What the worker should be doing; a pause or resume in flight brings BullMQ's worker there. */
  private standing = false;
  private lastJobAt = Date.now();
  /** Every pause and resume, one after another: each applies the latest `standing` when its turn comes. */
  private applying: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: StandbyDeps) {
    deps.worker.on('active', () => this.jobStarted());
  }

  /** Whether this worker stands by (or is about to: a pause may still be in flight). */
  get standingBy(): boolean {
    return this.standing;
  }

  start(): void {
    if (this.deps.afterMs === 0) return;
    this.timer = setInterval(() => void this.check(), Math.min(CHECK_EVERY_MS, this.deps.afterMs));
    this.timer.unref();
  }

  /**
   * Stands by when idle long enough and not the watcher; fetches again on becoming the watcher, or
   * when signals cannot reach it. `at`: the time to judge the idle time by (tests pass a later one).
   */
  check(at = Date.now()): Promise<void> {
    if (this.closed || this.deps.afterMs === 0) return this.applying;
    if (this.deps.watching()) return this.set(false, 'it watches the shard now (it holds the sweep lease)');
    if (!this.deps.reachable()) return this.set(false, 'new-work signals cannot reach it (its subscription is down)');
    const idleMs = at - this.lastJobAt;
    if (idleMs >= this.deps.afterMs) return this.set(true, `no job for ${Math.round(idleMs / 1000)} s`);
    return this.applying;
  }

  /**
   * A "new work" signal, or a subscription lost or back (`why`): fetch again, and stay up for
   * another WORKER_STANDBY_AFTER_MS at least.
   */
  wake(why = 'new work was signalled'): Promise<void> {
    this.lastJobAt = Date.now();
    if (this.standing) this.wakes += 1;
    return this.set(false, why);
  }

  /** Stops checking; a pause or resume in flight ends first (BullMQ's close then stops the worker). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.applying;
  }

  private jobStarted(): void {
    this.lastJobAt = Date.now();
    // The watcher may be the only one fetching: what it starts, others may be able to help with.
    if (this.deps.watching()) this.deps.wake.signal();
  }

  /** Wants `standing`, and queues a pause or resume unless BullMQ's worker is already there. */
  private set(standing: boolean, why: string): Promise<void> {
    if (standing !== this.standing) {
      this.standing = standing;
      if (standing) {
        this.standbys += 1;
        this.deps.logger.info(`standing by: ${why}; another worker watches the shard and new work wakes this one`);
      } else this.deps.logger.info(`fetching jobs again: ${why}`);
      // A pause or resume that failed is tried again here, at the next check or signal.
    } else if (this.deps.worker.isPaused() === standing) return this.applying;
    this.applying = this.applying.then(() => this.apply());
    return this.applying;
  }

  private async apply(): Promise<void> {
    const { worker, logger } = this.deps;
    if (this.closed) return;
    try {
      if (this.standing && !worker.isPaused()) await worker.pause(true);
      else if (!this.standing && worker.isPaused()) await worker.resume();
    } catch (error) {
      // BullMQ's worker stays as it was; the next check (or signal) tries again.
      logger.warn({ err: error }, 'could not pause or resume the worker for standby');
    }
  }
}
