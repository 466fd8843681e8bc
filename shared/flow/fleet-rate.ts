// The fleet's job rate against DynamoDB's capacity, kept in Redis so every worker of a queue shares
// one: additive increase, multiplicative decrease (AIMD), decided once per second for the whole
// fleet by one Lua script, and enforced by BullMQ's own global rate limiter (the queue meta's
// max/duration), which every worker's fetch already obeys. Ten workers then behave like one
// well-behaved client instead of ten that each back off on their own.
//
// Each worker reports what its jobs did in the last second (jobs started, DynamoDB requests,
// throttled requests, capacity units). The script adds that to the current second's tallies; the
// first report of a new second decides on the second just finished:
//   - any throttled request: the rate (or, when it was not holding jobs back, the jobs started)
//     times (1 - half the share of requests throttled), cut by at most `factor` and never below the
//     floor; at most once per two seconds (throttles from jobs started before the cut are still
//     arriving) unless a fifth or more of the requests were throttled. A cut in proportion to the throttled share (as DCTCP does with congestion marks;
//     half, because the SDK's retries of a throttled request are counted as requests too)
//     leaves a small overshoot a small cut, where a fixed halving would keep the table well below
//     its capacity most of the time. The rate before the cut is kept as the `peak`;
//   - else, if the limit held jobs back (BullMQ's window counter reached it): back up quickly (25%
//     a second) to just under the peak, then probe above it slowly, `increase` x rate a second (at
//     least 1 job/s), as CUBIC does around its last loss; reaching the ceiling lifts the limit. The
//     steps are shares of the rate so one default suits a table of 10 jobs/s and one of 10,000;

//   - else nothing (an unused rate is not raised: it would only allow a burst later).
// With no reports for a minute the rate is forgotten: an idle fleet probes afresh.
import type { QueueKeys } from '../lifecycle/keys.js';
import type { RedisConnection } from '../runtime/redis.js';
import { luaScript, withLuaScripts } from '../runtime/redis-scripts.js';

export interface FlowSettings {
  floor: number;
  ceiling: number;
  /** Share of the rate added per second while the limit holds jobs back. */
  increase: number;
  /** The largest cut in one go: the rate is multiplied by at least this. */
  factor: number;
  /** The rate before the first throttle; undefined: no limit until then. */
  initial?: number;
}

/** What one worker's jobs did since its last report. */
export interface FlowReport {
  started: number;
  requests: number;
  throttled: number;
  capacityUnits: number;
}

/** The fleet's state as the last full second left it. */
export interface FleetFlow {
  /** Jobs per second the fleet may start; null: no limit. */
  rate: number | null;
  /** The last full second's fleet-wide tallies. */
  lastSecond: FlowReport;
  /** When DynamoDB last throttled a job of this queue (ms since epoch), if ever. */
  lastThrottleAt: number | null;
}

export interface FleetFlowView extends FleetFlow {
  /** The limit is holding jobs back right now (BullMQ's window is full). */
  heldBack: boolean;
}

type WithFlowScripts = RedisConnection & {
  djqFlowTick(flow: string, meta: string, limiter: string, ...args: (string | number)[]): Promise<(number | string)[]>;
  djqFlowLift(flow: string, meta: string): Promise<number>;
};

const TICK = luaScript('djqFlowTick', 3, new URL('./fleet-rate-tick.lua', import.meta.url));
const LIFT = luaScript('djqFlowLift', 2, new URL('./fleet-rate-lift.lua', import.meta.url));
const withScripts = (redis: RedisConnection) => withLuaScripts<WithFlowScripts>(redis, TICK, LIFT);

export class FleetRate {
  private readonly redis: WithFlowScripts;

  constructor(
    redis: RedisConnection,
    private readonly keys: QueueKeys,
    private readonly settings: FlowSettings,
    /** Seconds since epoch instead of Redis's TIME: tests drive the seconds by hand. */
    private readonly clock?: () => number,
  ) {
    this.redis = withScripts(redis);
  }

  /** Adds one worker's report and lets the fleet decide if a second has passed; returns the fleet's state. */
  async report(report: FlowReport): Promise<Omit<FleetFlow, 'lastThrottleAt'>> {
    const { floor, ceiling, increase, factor, initial } = this.settings;
    const [rate, started, requests, throttled, units] = (
      await this.redis.djqFlowTick(
        this.keys.flow,
        this.keys.bullMeta,
        this.keys.bullLimiter,
        report.started,
        report.requests,
        report.throttled,
        report.capacityUnits,
        floor,
        ceiling,
        increase,
        factor,
        initial ?? 0,
        ...(this.clock ? [this.clock()] : []),
      )
    ).map(Number);
    return {
      rate: rate === undefined || rate < 0 ? null : rate,
      lastSecond: {
        started: started ?? 0,
        requests: requests ?? 0,
        throttled: throttled ?? 0,
        capacityUnits: Math.round((units ?? 0) * 10) / 10,
      },
    };
  }

  /** Removes the limit flow control set (when it is turned off): a limit someone else set stays. */
  async lift(): Promise<void> {
    await this.redis.djqFlowLift(this.keys.flow, this.keys.bullMeta);
  }
}

/** The fleet's flow state as operators see it (djq stats, the board, npm start's summary). */
export async function readFleetFlow(redis: RedisConnection, keys: QueueKeys): Promise<FleetFlowView> {
  const [fields, used, windowMax] = await Promise.all([
    redis.hmget(keys.flow, 'rate', 'lastStarted', 'lastRequests', 'lastThrottled', 'lastUnits', 'throttledAt'),
    redis.get(keys.bullLimiter),
    // The jobs one window allows, as the script set it and BullMQ enforces it.
    redis.hget(keys.bullMeta, 'max'),
  ]);
  const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));
  const rate = num(fields[0]);
  return {
    rate,
    lastSecond: {
      started: num(fields[1]) ?? 0,
      requests: num(fields[2]) ?? 0,
      throttled: num(fields[3]) ?? 0,
      capacityUnits: Math.round((num(fields[4]) ?? 0) * 10) / 10,
    },
    lastThrottleAt: num(fields[5]),
    heldBack: rate !== null && windowMax !== null && Number(used ?? 0) >= Number(windowMax),
  };
}

/** One line for a person: "no limit", or the rate and whether it holds jobs back now. */
export function describeFleetFlow(flow: FleetFlowView): string {
  if (flow.rate === null) return 'no limit (DynamoDB has not throttled)';
  const state = flow.heldBack ? 'holding jobs back' : 'not reached';
  const last = flow.lastSecond;
  return `${flow.rate} jobs/s (${state}); last second: ${last.started} jobs, ${last.capacityUnits} capacity units, ${last.throttled} of ${last.requests} requests throttled`;
}
