// When a worker stands by and when it fetches again, against a stand-in for BullMQ's Worker whose
// pause and resume finish when the test says: each order of a signal and a pause in flight is driven
// step by step. The real BullMQ worker and Redis: test/integration/standby.test.ts.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { WakeSignal } from '../../shared/lifecycle/wake-signal.js';
import { Standby, type StandbyWorker } from '../../worker/standby.js';

const HOUR = 3_600_000;
const tick = () => new Promise((resolve) => setImmediate(resolve));
const later = () => Date.now() + 2 * HOUR;

/** A BullMQ worker's pause and resume, each held until `finish()` (or at once with `instant`). */
class FakeWorker extends EventEmitter implements StandbyWorker {
  paused = false;
  calls: string[] = [];
  pending: (() => void)[] = [];
  failNext = false;
  constructor(private readonly instant = true) {
    super();
  }
  private step(name: string, paused: boolean): Promise<void> {
    this.calls.push(name);
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error(`${name} failed`));
    }
    const done = () => {
      this.paused = paused;
    };
    if (this.instant) {
      done();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.pending.push(() => resolve(done())));
  }
  pause(): Promise<void> {
    return this.step('pause', true);
  }
  resume(): Promise<void> {
    return this.step('resume', false);
  }
  isPaused(): boolean {
    return this.paused;
  }
  /** Lets the oldest pause or resume in flight finish (once the standby's queued step has called it). */
  async finish(): Promise<void> {
    await tick();
    const next = this.pending.shift();
    if (!next) throw new Error('no pause or resume in flight');
    next();
    await tick();
  }
}

function standbyOf(worker: FakeWorker, options: { watching?: boolean; reachable?: boolean; afterMs?: number } = {}) {
  const state = { watching: options.watching ?? false, reachable: options.reachable ?? true, signals: 0 };
  const wake = {
    signal: () => {
      state.signals += 1;
    },
  } as unknown as WakeSignal;
  const standby = new Standby({
    worker,
    watching: () => state.watching,
    reachable: () => state.reachable,
    wake,
    afterMs: options.afterMs ?? HOUR,
    logger: pino({ level: 'silent' }),
  });
  return { standby, state };
}

describe('Standby', () => {
  it('stands by once idle for the whole wait, and not before', async () => {
    const worker = new FakeWorker();
    const { standby } = standbyOf(worker);
    await standby.check();
    expect(worker.paused).toBe(false);
    await standby.check(later());
    expect(worker.paused).toBe(true);
    expect(standby.standingBy).toBe(true);
    expect(standby.standbys).toBe(1);
  });

  it('counts idle time from the last job started', async () => {
    const worker = new FakeWorker();
    const { standby } = standbyOf(worker);
    const at = later();
    // A job started after the time judged by: not idle long enough.
    worker.emit('active');
    await standby.check(Date.now() + HOUR - 1000);
    expect(worker.paused).toBe(false);
    await standby.check(at + HOUR);
    expect(worker.paused).toBe(true);
  });

  it('never stands by while it watches the shard, and fetches again once it does', async () => {
    const worker = new FakeWorker();
    const { standby, state } = standbyOf(worker, { watching: true });
    await standby.check(later());
    expect(worker.paused).toBe(false);
    state.watching = false;
    await standby.check(later());
    expect(worker.paused).toBe(true);
    state.watching = true;
    await standby.check(later());
    expect(worker.paused).toBe(false);
  });

  it('never stands by while signals cannot reach it, and fetches again when they stop reaching it', async () => {
    const worker = new FakeWorker();
    const { standby, state } = standbyOf(worker, { reachable: false });
    await standby.check(later());
    expect(worker.paused).toBe(false);
    state.reachable = true;
    await standby.check(later());
    expect(worker.paused).toBe(true);
    state.reachable = false;
    await standby.check(later());
    expect(worker.paused).toBe(false);
  });

  it('is woken by a signal, which counts as activity', async () => {
    const worker = new FakeWorker();
    const { standby } = standbyOf(worker);
    await standby.check(later());
    await standby.wake();
    expect(worker.paused).toBe(false);
    expect(standby.wakes).toBe(1);
    // Woken now: idle for less than the wait, it stays up.
    await standby.check(Date.now() + HOUR - 1000);
    expect(worker.paused).toBe(false);
  });

  it('ends fetching when a signal comes while its pause is still in flight', async () => {
    const worker = new FakeWorker(false);
    const { standby } = standbyOf(worker);
    const standing = standby.check(later());
    await tick();
    expect(worker.calls).toEqual(['pause']);
    const woken = standby.wake();
    await worker.finish(); // the pause ends after the signal came
    await worker.finish(); // then the resume queued behind it
    await Promise.all([standing, woken]);
    expect(worker.calls).toEqual(['pause', 'resume']);
    expect(worker.paused).toBe(false);
    expect(standby.standingBy).toBe(false);
  });

  it('stands by when the wait ends again while its resume is still in flight', async () => {
    const worker = new FakeWorker(false);
    const { standby } = standbyOf(worker);
    const first = standby.check(later());
    await worker.finish();
    await first;
    const woken = standby.wake();
    await tick();
    expect(worker.calls).toEqual(['pause', 'resume']);
    const again = standby.check(Date.now() + 3 * HOUR);
    await worker.finish();
    await worker.finish();
    await Promise.all([woken, again]);
    expect(worker.calls).toEqual(['pause', 'resume', 'pause']);
    expect(worker.paused).toBe(true);
  });

  it('makes no call when a signal comes before its queued pause starts (only the last wish counts)', async () => {
    const worker = new FakeWorker(false);
    const { standby } = standbyOf(worker);
    await Promise.all([standby.check(later()), standby.wake()]);
    expect(worker.calls).toEqual([]);
    expect(worker.paused).toBe(false);
  });

  it('tries a failed pause again at the next check', async () => {
    const worker = new FakeWorker();
    const { standby } = standbyOf(worker);
    worker.failNext = true;
    await standby.check(later());
    expect(worker.paused).toBe(false);
    await standby.check(later());
    expect(worker.calls).toEqual(['pause', 'pause']);
    expect(worker.paused).toBe(true);
  });

  it('signals the others as the watcher starts a job, and only the watcher', async () => {
    const [watching, notWatching] = [new FakeWorker(), new FakeWorker()];
    const watcher = standbyOf(watching, { watching: true });
    const other = standbyOf(notWatching, { watching: false });
    watching.emit('active');
    notWatching.emit('active');
    expect(watcher.state.signals).toBe(1);
    expect(other.state.signals).toBe(0);
  });

  it('never stands by with a wait of 0, and does nothing after close', async () => {
    const off = new FakeWorker();
    await standbyOf(off, { afterMs: 0 }).standby.check(later());
    expect(off.calls).toEqual([]);
    const closed = new FakeWorker();
    const { standby } = standbyOf(closed);
    await standby.close();
    await standby.check(later());
    await standby.wake();
    expect(closed.calls).toEqual([]);
  });
});
