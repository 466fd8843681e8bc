// The fleet's AIMD rate on real Redis, one second at a time (the script takes the second from a
// test clock instead of Redis's TIME), and BullMQ enforcing it through its global rate limit.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { FleetRate, type FlowReport, readFleetFlow } from '../../shared/flow/fleet-rate.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { deleteKeys, testEnv } from '../helpers/stack.js';

const env = testEnv();
const redis = new Redis(env.config.REDIS_URL, { maxRetriesPerRequest: null });
const settings = { floor: 2, ceiling: 60, increase: 0.1, factor: 0.5 };

afterAll(async () => {
  await deleteKeys(redis, `${env.config.QUEUE_PREFIX}*`);
  redis.disconnect();
});

let fleets = 0;
/** A fresh queue's keys and a FleetRate on it whose clock is `second.now`. */
function fleet(options: Partial<typeof settings> & { initial?: number } = {}) {
  const keys = queueKeys({ ...env.config, QUEUE_NAME: `fleet-${fleets++}` });
  const second = { now: 1_000_000 };
  const rate = new FleetRate(redis, keys, { ...settings, ...options }, () => second.now);
  const queue = new Queue(keys.operations, { connection: redis, prefix: keys.prefix });
  /** The rate `seconds` later, as the next report (an idle worker's) reads it. */
  const rateAfter = async (seconds: number) => {
    second.now += seconds;
    return (await rate.report(report(0))).rate;
  };
  return { keys, second, rate, queue, rateAfter };
}

const report = (started: number, throttled = 0, capacityUnits = started): FlowReport => ({
  started,
  requests: started * 2,
  throttled,
  capacityUnits,
});

describe('the fleet rate', () => {
  it('sets no limit while DynamoDB does not throttle', async () => {
    const f = fleet();
    await f.rate.report(report(100));
    f.second.now += 1;
    const state = await f.rate.report(report(100));
    expect(state.rate).toBeNull();
    expect(state.lastSecond).toEqual({ started: 100, requests: 200, throttled: 0, capacityUnits: 100 });
    expect(await f.queue.getGlobalRateLimit()).toBeNull();
    await f.queue.close();
  });

  it('cuts by the share of requests throttled in a second, by at most the factor, once per two seconds unless a storm; BullMQ enforces it', async () => {
    const f = fleet();
    // Two workers report into the same second: the fleet's tallies are their sum (40 jobs, 80
    // requests, 8 throttled: a tenth, so a cut of half that, 5%).
    await f.rate.report(report(30, 6));
    await f.rate.report(report(10, 2));
    expect(await f.rateAfter(1)).toBe(38);
    // Held a quarter of a second at a time: 38 jobs/s is 10 per 250 ms.
    expect(await f.queue.getGlobalRateLimit()).toEqual({ max: 10, duration: 250 });
    // A storm (every request throttled) the second after a cut is cut at once, by at most the
    // factor (0.5), from the 20 jobs that actually started.
    await f.rate.report(report(20, 40));
    expect(await f.rateAfter(1)).toBe(10);
    // Modest throttles from jobs started before the cut keep arriving: the next second does not cut again...
    await f.rate.report(report(20, 4));
    expect(await f.rateAfter(1)).toBe(10);
    // ...the one after does: a tenth of the requests throttled, a cut of 5% (10 -> 9.5, rounded down).
    await f.rate.report(report(20, 4));
    expect(await f.rateAfter(1)).toBe(9);
    const flow = await readFleetFlow(redis, f.keys);
    expect(flow.rate).toBe(9);
    expect(flow.lastThrottleAt).toBe((f.second.now - 1) * 1000);
    await f.queue.close();
  });

  it('never goes below the floor', async () => {
    const f = fleet();
    await f.rate.report(report(1, 2));
    expect(await f.rateAfter(1)).toBe(settings.floor);
    await f.queue.close();
  });

  it('raises the rate by a share of itself only while it holds jobs back, and lifts it at the ceiling', async () => {
    const f = fleet({ initial: 50 });
    expect((await f.rate.report(report(10))).rate).toBe(50);
    // 10 jobs started of 50 allowed: the limit held nothing back, so it is not raised.
    expect(await f.rateAfter(1)).toBe(50);
    // BullMQ's window counter at the limit: jobs are waiting on it.
    await redis.set(f.keys.bullLimiter, 50, 'PX', 60_000);
    await f.rate.report(report(50));
    expect(await f.rateAfter(1)).toBe(55);
    await redis.set(f.keys.bullLimiter, 55, 'PX', 60_000);
    expect((await readFleetFlow(redis, f.keys)).heldBack).toBe(true);
    await f.rate.report(report(55));
    f.second.now += 1;
    // 60 is the ceiling: the limit is lifted until the next throttle.
    expect((await f.rate.report(report(0))).rate).toBeNull();
    expect(await f.queue.getGlobalRateLimit()).toBeNull();
    await f.queue.close();
  });

  it('backs up fast to just under the rate it was throttled at, then probes above it slowly', async () => {
    const f = fleet({ initial: 40, ceiling: 1000 });
    await f.rate.report(report(0));
    const held = () => redis.set(f.keys.bullLimiter, 1000, 'PX', 60_000);
    await held();
    // Every request throttled under a limit of 40 that held jobs back: cut by the factor, to 20.
    await f.rate.report(report(40, 80));
    expect(await f.rateAfter(1)).toBe(20);
    const rates = [];
    for (let i = 0; i < 4; i++) {
      await held();
      await f.rate.report(report(20));
      rates.push(await f.rateAfter(1));
    }
    // +25% a second up to 38 (95% of 40), then the configured 10% a second.
    expect(rates).toEqual([25, 31, 38, 41]);
    await f.queue.close();
  });

  it('forgets the rate after a minute without reports', async () => {
    const f = fleet();
    await f.rate.report(report(40, 80));
    expect(await f.rateAfter(1)).toBe(20);
    expect(await f.rateAfter(61)).toBeNull();
    expect(await f.queue.getGlobalRateLimit()).toBeNull();
    await f.queue.close();
  });

  it("forgetting an idle fleet's rate leaves a limit flow control did not set", async () => {
    const f = fleet();
    await f.queue.setGlobalRateLimit(7, 1000);
    await f.rate.report(report(10));
    expect(await f.rateAfter(61)).toBeNull();
    expect(await f.queue.getGlobalRateLimit()).toEqual({ max: 7, duration: 1000 });
    await f.queue.close();
  });

  it("keeps deciding when Redis's clock steps back (a failover to a host whose clock is behind)", async () => {
    const f = fleet();
    await f.rate.report(report(40, 8));
    expect(await f.rateAfter(1)).toBe(38);
    f.second.now -= 30;
    // A tenth of the requests throttled in the first second after the step: the last cut's second
    // is in the new clock's future, which says nothing about how long ago it was.
    await f.rate.report(report(40, 8));
    expect(await f.rateAfter(1)).toBe(36);
    await f.queue.close();
  });

  it('lift() removes only a limit flow control set', async () => {
    const ours = fleet();
    await ours.rate.report(report(40, 80));
    ours.second.now += 1;
    await ours.rate.report(report(0));
    await ours.rate.lift();
    expect(await ours.queue.getGlobalRateLimit()).toBeNull();
    expect((await readFleetFlow(redis, ours.keys)).rate).toBeNull();

    const theirs = fleet();
    await theirs.queue.setGlobalRateLimit(7, 1000);
    await theirs.rate.lift();
    expect(await theirs.queue.getGlobalRateLimit()).toEqual({ max: 7, duration: 1000 });
    await Promise.all([ours.queue.close(), theirs.queue.close()]);
  });

  it('holds a real worker at the rate: BullMQ reports the queue rate-limited once the window is used up', async () => {
    const f = fleet({ initial: 3 });
    await f.rate.report(report(0));
    // The script's max with a window of a minute instead of a second, so a slow machine cannot see
    // the window roll over mid-test.
    await redis.hset(f.keys.bullMeta, 'duration', 60_000);
    await f.queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'get-user', data: { i } })));
    const started: string[] = [];
    let allStarted!: () => void;
    const threeStarted = new Promise<void>((resolve) => {
      allStarted = resolve;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = new Worker(
      f.keys.operations,
      async (job) => {
        started.push(String(job.id));
        if (started.length === 3) allStarted();
        await gate;
      },
      { connection: redis, prefix: f.keys.prefix, concurrency: 6 },
    );
    await threeStarted;
    // Six jobs waiting and six free slots, but the window allows three.
    expect(await f.queue.getRateLimitTtl()).toBeGreaterThan(0);
    expect((await readFleetFlow(redis, f.keys)).heldBack).toBe(true);
    expect(started).toHaveLength(3);
    release();
    await worker.close();
    await f.queue.close();
  });
});
