// One shard's periodic dead-letter sweep, run by one worker of the fleet at a time: the worker
// holding the shard's sweep lease (sweep-lease.ts). Every worker keeps a round going (one Redis call
// a round: renew the lease, or try to take it), so a dead holder's shard is swept again within a
// lease's lifetime plus a round. The failed-event listener still settles a job at once in the worker
// that failed it: the sweep is only the catch-all, and the fleet needs one.
import type { Logger } from '../shared/runtime/logger.js';
import type { Settler } from './settler.js';
import type { SweepLease } from './sweep-lease.js';

/** The lease outlives this many rounds without a renewal: a holder survives a round or two of stalls. */
export const LEASE_ROUNDS = 3;

export class ElectedSweep {
  /** Rounds in which this worker held the lease and swept (tests and the bench read it). */
  sweeps = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Whether the last round held the lease: a change is logged, so an operator sees who sweeps. */
  private holding = false;

  constructor(private readonly deps: { settler: Settler; lease: SweepLease; logger: Logger; intervalMs: number }) {}

  /** Whether this worker held the lease at its last round: it watches the shard (standby.ts). */
  get holds(): boolean {
    return this.holding;
  }

  /** A round now, then one every interval. */
  start(): void {
    void this.round();
    this.timer = setInterval(() => void this.round(), this.deps.intervalMs);
    this.timer.unref();
  }

  /**
   * Keeps (or takes) the lease and, while it is ours, sweeps a pass (which stops between jobs once
   * the lease is no longer ours for sure). Resolves whether this worker swept.
   */
  async round(): Promise<boolean> {
    if (this.closed) return false;
    const { lease, settler, logger } = this.deps;
    let held: boolean;
    try {
      held = await lease.hold();
    } catch (error) {
      logger.warn({ err: error }, 'sweep lease unreachable; the next round tries again');
      return false;
    }
    if (held !== this.holding) {
      this.holding = held;
      if (held) logger.info('this worker now sweeps the failed set (it holds the sweep lease)');
      else logger.info('another worker sweeps the failed set now (the sweep lease went to it)');
    }
    if (!held || this.closed) return false;
    this.sweeps += 1;
    await settler.sweep(() => !this.closed && lease.isHeld());
    return true;
  }

  /** Stops the rounds and hands the lease over at once (another worker's next round takes it). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.deps.lease
      .release()
      .catch((error: unknown) => this.deps.logger.debug({ err: error }, 'sweep lease not released; it expires'));
  }
}
