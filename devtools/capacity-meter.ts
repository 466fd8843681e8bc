// The capacity budget of the capacity-limited DynamoDB (capacity-limit.ts): one token bucket of read
// units and one of write units, refilled continuously, and the counts of what was admitted,
// consumed and throttled.
import { type Kind, MIN_UNITS } from './dynamo-wire.js';

export interface CapacityBudget {
  readUnitsPerSecond: number;
  writeUnitsPerSecond: number;
  /** unused capacity kept, in seconds of budget (DynamoDB keeps up to 300 s; default 1) */
  burstSeconds?: number;
}

export interface CapacityStats {
  /** Metered requests (reads and writes), throttled ones included. */
  requests: number;
  throttled: number;
  /** Capacity units consumed by admitted reads, as DynamoDB (dynalite) counted them. */
  readUnits: number;
  writeUnits: number;
  throttledReads: number;
  throttledWrites: number;
  /** ms epoch */
  startedAt: number;
}

/** DynamoDB's longest burst: unused capacity older than 300 s is gone. */
const MAX_BURST_SECONDS = 300;
/**
 * Held from admission until the answer says what the request consumed. Without it, every request
 * arriving while others are in flight would see the same positive bucket, and a busy fleet would
 * overshoot the budget by its concurrency. One unit: a write's minimum, a strong read's.
 */
const RESERVED_UNITS = MIN_UNITS;

/**
 * Tokens refilled continuously at `rate` per second, up to `rate × burstSeconds`, starting full. It
 * may go below zero: DynamoDB lets an admitted request take the bucket into debt.
 */
class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  private readonly ceiling: number;

  constructor(
    private readonly rate: number,
    burstSeconds: number,
    private readonly now: () => number,
  ) {
    this.ceiling = rate * burstSeconds;
    this.tokens = this.ceiling;
    this.refilledAt = now();
  }

  /** A request may go while the bucket is above 0, however much it then consumes. */
  admits(): boolean {
    this.refill();
    return this.tokens > 0;
  }

  /** Takes `units` (a negative number gives them back). */
  take(units: number): void {
    this.refill();
    this.tokens = Math.min(this.ceiling, this.tokens - units);
  }

  private refill(): void {
    const t = this.now();
    const elapsedMs = Math.max(0, t - this.refilledAt);
    this.tokens = Math.min(this.ceiling, this.tokens + (this.rate * elapsedMs) / 1000);
    this.refilledAt = t;
  }
}

export function checkBudget(budget: CapacityBudget): Required<CapacityBudget> {
  const full = { burstSeconds: 1, ...budget };
  for (const [name, value] of Object.entries(full)) {
    if (!Number.isFinite(value) || value <= 0)
      throw new RangeError(`capacity budget: ${name} must be > 0, got ${value}`);
  }
  if (full.burstSeconds > MAX_BURST_SECONDS) {
    throw new RangeError(`capacity budget: burstSeconds is at most ${MAX_BURST_SECONDS} (as DynamoDB keeps)`);
  }
  return full;
}

/** Both buckets and the counts; every metered request goes through admit, then release or charge. */
export class CapacityMeter {
  private readonly buckets: Record<Kind, TokenBucket>;
  private readonly counts: CapacityStats = {
    requests: 0,
    throttled: 0,
    readUnits: 0,
    writeUnits: 0,
    throttledReads: 0,
    throttledWrites: 0,
    startedAt: Date.now(),
  };

  constructor(budget: Required<CapacityBudget>, now: () => number) {
    this.buckets = {
      read: new TokenBucket(budget.readUnitsPerSecond, budget.burstSeconds, now),
      write: new TokenBucket(budget.writeUnitsPerSecond, budget.burstSeconds, now),
    };
  }

  /** Lets a request go, holding RESERVED_UNITS for it, or counts it throttled and says no. */
  admit(kind: Kind): boolean {
    const bucket = this.buckets[kind];
    this.counts.requests++;
    if (!bucket.admits()) {
      this.counts.throttled++;
      if (kind === 'read') this.counts.throttledReads++;
      else this.counts.throttledWrites++;
      return false;
    }
    bucket.take(RESERVED_UNITS);
    return true;
  }

  /** An admitted request that failed: DynamoDB charges nothing for a request it failed. */
  release(kind: Kind): void {
    this.buckets[kind].take(-RESERVED_UNITS);
  }

  /** An admitted request's answer: what it consumed replaces what was held for it. */
  charge(kind: Kind, units: number): void {
    this.buckets[kind].take(units - RESERVED_UNITS);
    if (kind === 'read') this.counts.readUnits += units;
    else this.counts.writeUnits += units;
  }

  /** Cumulative counts since start. */
  stats(): CapacityStats {
    return { ...this.counts };
  }
}
