// A lease in Redis that elects one worker of the fleet for a periodic job (the dead-letter sweep of
// one queue shard): a key holding the holder's token with an expiry. Taken with SET NX PX when free,
// renewed by its holder alone (a token-checking script), released on close, and handed over when
// its holder dies because it expires. Being elected is an economy, not a safety rule: two sweepers
// at once (a paused holder that has not yet learnt it lost the lease) stay correct, because every
// settle runs under the job's transition lock.
import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../shared/runtime/redis.js';
import { luaScript, withLuaScripts } from '../shared/runtime/redis-scripts.js';

const RENEW = luaScript('djqLeaseRenew', 1, new URL('../shared/runtime/lease-renew.lua', import.meta.url));
const RELEASE = luaScript('djqSweepLeaseRelease', 1, new URL('./sweep-lease-release.lua', import.meta.url));

type WithLeaseScripts = RedisConnection & {
  djqLeaseRenew(lease: string, token: string, ttlMs: number): Promise<number>;
  djqSweepLeaseRelease(lease: string, token: string): Promise<number>;
};

export class SweepLease {
  /** The worker's id first, so an operator (and a test) can tell who holds it: `GET <lease>`. */
  readonly token: string;
  private readonly redis: WithLeaseScripts;
  /** Until when (local ms) the lease is ours for sure: measured from before the request that took it. */
  private heldUntil = 0;
  /** A hold in flight, which a concurrent caller shares (two would race their own SET NX). */
  private holding: Promise<boolean> | undefined;

  constructor(
    redis: RedisConnection,
    private readonly key: string,
    holder: string,
    /** The lease's lifetime: a holder that stops renewing for this long loses it. */
    private readonly ttlMs: number,
  ) {
    this.redis = withLuaScripts<WithLeaseScripts>(redis, RENEW, RELEASE);
    this.token = `${holder}:${randomUUID()}`;
  }

  /** Renews the lease if it is ours, else takes it if it is free: whether this worker holds it now. */
  hold(): Promise<boolean> {
    this.holding ??= this.holdOnce().finally(() => {
      this.holding = undefined;
    });
    return this.holding;
  }

  private async holdOnce(): Promise<boolean> {
    const sent = Date.now();
    let held = false;
    if (this.heldUntil > 0) held = (await this.redis.djqLeaseRenew(this.key, this.token, this.ttlMs)) === 1;
    // Not ours (or it expired while we were away): take it if no one else has.
    if (!held) held = (await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX')) === 'OK';
    this.heldUntil = held ? sent + this.ttlMs : 0;
    return held;
  }

  /** Whether the lease is ours for sure right now (a pass checks it between jobs). */
  isHeld(): boolean {
    return Date.now() < this.heldUntil;
  }

  /** Hands the lease over at once (on close): another worker's next round takes it. */
  async release(): Promise<void> {
    // A round in flight may be taking it right now: let it finish, or the lease would outlive us.
    await this.holding?.catch(() => false);
    if (this.heldUntil === 0) return;
    this.heldUntil = 0;
    await this.redis.djqSweepLeaseRelease(this.key, this.token);
  }
}
