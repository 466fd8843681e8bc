// One worker's part in the fleet's flow control (shared/flow/fleet-rate.ts): it tallies what its
// jobs did against DynamoDB and reports once a second (when there is something to report, or a
// limit in force); the fleet decides the rate. Advisory: a
// report that fails (Redis away) is dropped, never blocks a job, and the next one carries on.
import { type CallTally, emptyTally, onThrottledRequest } from '../shared/dynamo/instrumentation.js';
import { FleetRate, type FlowReport, type FlowSettings } from '../shared/flow/fleet-rate.js';
import type { QueueKeys } from '../shared/lifecycle/keys.js';
import type { Config } from '../shared/runtime/config.js';
import { withDeadline } from '../shared/runtime/deadline.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { RedisConnection } from '../shared/runtime/redis.js';

const REPORT_EVERY_MS = 1000;

/** What tests change. */
export interface FlowControlOptions {
  /** Seconds since epoch instead of Redis's TIME. @default Redis's TIME */
  clock?: () => number;
  /** Between two reports; tests that report by hand make it long. @default 1000 */
  reportEveryMs?: number;
}

export function flowSettingsOf(config: Config): FlowSettings {
  return {
    floor: config.FLOW_RATE_FLOOR,
    ceiling: config.FLOW_RATE_CEILING,
    increase: config.FLOW_RATE_INCREASE,
    factor: config.FLOW_DECREASE_FACTOR,
    ...(config.FLOW_RATE_INITIAL !== undefined ? { initial: config.FLOW_RATE_INITIAL } : {}),
  };
}

export class FlowControl {
  /** The fleet's rate as the last report returned it (null: no limit). */
  rate: number | null = null;
  /** Capacity units the fleet's jobs consumed in the last full second, as the last report returned it. */
  fleetUnitsPerSecond = 0;
  private pending: FlowReport = emptyReport();
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private reporting = false;
  /** A report has gone through: the fleet has seen this worker once (and applied any initial rate). */
  private reported = false;
  private readonly fleet: FleetRate;
  private readonly reportEveryMs: number;

  constructor(
    /** FLOW_CONTROL: off, throttled jobs are failed attempts as any other retryable error. */
    readonly enabled: boolean,
    redis: RedisConnection,
    keys: QueueKeys,
    settings: FlowSettings,
    private readonly logger: Logger,
    options: FlowControlOptions = {},
  ) {
    this.fleet = new FleetRate(redis, keys, settings, options.clock);
    this.reportEveryMs = options.reportEveryMs ?? REPORT_EVERY_MS;
  }

  static fromConfig(config: Config, redis: RedisConnection, keys: QueueKeys, logger: Logger): FlowControl {
    return new FlowControl(config.FLOW_CONTROL, redis, keys, flowSettingsOf(config), logger);
  }

  /**
   * Starts the reports (on), or the lifts of a limit a fleet with flow control on left (off): now
   * and every round after, not only at start, or a rolling deploy that turns flow control off would
   * keep the limit its last old worker set, with no one left to raise or forget it.
   */
  start(): void {
    this.timer = setInterval(() => void this.tick(), this.reportEveryMs);
    this.timer.unref();
    if (!this.enabled) {
      void this.report();
      return;
    }
    // Throttles of no job's tally (history writes, sweeps): the table is every shard's.
    this.unsubscribe = onThrottledRequest(() => this.noteThrottled());
  }

  /**
   * A tally for one attempt's DynamoDB calls whose throttles count for this queue (shard) alone:
   * another shard of the same process, maybe idle, must not be cut for them.
   */
  newTally(): CallTally {
    return emptyTally(() => this.noteThrottled());
  }

  private noteThrottled(): void {
    this.pending.throttled += 1;
  }

  /** An attempt begins: the fleet's rate is in attempts started per second. */
  noteStarted(): void {
    this.pending.started += 1;
  }

  /** One attempt's DynamoDB calls, once it ends (whatever its outcome); throttles arrive as they happen. */
  noteCalls(tally: CallTally): void {
    this.pending.requests += tally.requests;
    this.pending.capacityUnits += tally.capacityUnits;
  }

  /**
   * The timer's report, left out when it would tell the fleet nothing: this worker tallied nothing,
   * the last report found no limit in force, and one has gone through already. An idle fleet then
   * costs Redis nothing a second. While a limit is in force every worker keeps reporting, idle or
   * not: its report is where the fleet sees the limit holding jobs back, and raises it.
   */
  tick(): Promise<void> {
    const idle = this.enabled && this.reported && this.rate === null && isEmpty(this.pending);
    return idle ? Promise.resolve() : this.report();
  }

  /**
   * Sends what was tallied since the last report (off: lifts the limit); at most one in flight, each
   * with a deadline.
   */
  async report(): Promise<void> {
    if (this.reporting) return;
    this.reporting = true;
    const sent = this.enabled
      ? this.sendReport()
      : this.fleet.lift().catch((error) => this.logger.debug({ err: error }, 'could not lift the fleet rate limit'));
    if (!(await withDeadline(sent, Date.now() + REPORT_EVERY_MS * 2)))
      this.logger.debug('flow report dropped: no answer from Redis in time');
    this.reporting = false;
  }

  private sendReport(): Promise<void> {
    const report = this.pending;
    this.pending = emptyReport();
    return this.fleet.report(report).then(
      ({ rate, lastSecond }) => {
        if (rate !== this.rate) this.logRateChange(rate, report);
        this.rate = rate;
        this.reported = true;
        this.fleetUnitsPerSecond = lastSecond.capacityUnits;
      },
      (error) => this.logger.debug({ err: error }, 'flow report dropped'),
    );
  }

  close(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
  }

  private logRateChange(rate: number | null, report: FlowReport): void {
    const previous = this.rate;
    if (rate === null) this.logger.info({ previous }, 'fleet rate limit lifted: DynamoDB keeps up');
    else if (previous === null || rate < previous)
      this.logger.warn(
        { rate, previous, throttled: report.throttled },
        `DynamoDB is throttling: fleet slowed to ${rate} jobs/s`,
      );
    else this.logger.debug({ rate, previous }, 'fleet rate raised');
  }
}

function isEmpty(report: FlowReport): boolean {
  return report.started === 0 && report.requests === 0 && report.throttled === 0 && report.capacityUnits === 0;
}

function emptyReport(): FlowReport {
  return { started: 0, requests: 0, throttled: 0, capacityUnits: 0 };
}
