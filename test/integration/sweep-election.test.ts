// One sweeper per fleet: the periodic dead-letter sweep of a shard runs only in the worker holding
// the shard's sweep lease. Real Redis and dynalite; rounds are driven by hand (a sweep interval of an
// hour leaves only each worker's first round to its timer), and a dead holder is a worker process
// killed with SIGKILL, so the lease is handed over by expiry alone.
import { afterAll, describe, expect, it } from 'vitest';
import { EffectBars } from '../../shared/lifecycle/effect-bars.js';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { Settler } from '../../worker/settler.js';
import { failedJob } from '../helpers/interleave.js';
import { openProducerSide, silentLogger, startTestWorker, type TestWorker, waitFor } from '../helpers/pipeline.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const HOUR = 3_600_000;
const opened: { resources: TestResources; workers: TestWorker[]; children: Service[] }[] = [];

afterAll(async () => {
  for (const { resources, workers, children } of opened) {
    for (const child of children) await stopService(child, 'SIGKILL');
    for (const worker of workers) await worker.stop();
    await resources.cleanup();
  }
});

/** A queue of its own, and its workers started by hand with rounds driven by hand. */
async function fleet(overrides: Record<string, number> = {}) {
  const env = testEnv({ DLQ_SWEEP_INTERVAL_MS: HOUR, ...overrides });
  const resources = await openTestResources(env.config);
  const own = { resources, workers: [] as TestWorker[], children: [] as Service[] };
  opened.push(own);
  const lease = queueKeys(env.config).sweepLease;
  return {
    env,
    resources,
    holder: () => resources.redis.get(lease),
    start(workerId: string) {
      const worker = startTestWorker({ ...env.config, WORKER_ID: workerId });
      own.workers.push(worker);
      const shard = worker.service.shards[0];
      if (!shard) throw new Error('a worker without a shard');
      return { worker, sweep: shard.sweep, settler: shard.settler };
    },
    /** worker/main.ts in a process of its own (renewing every `DLQ_SWEEP_INTERVAL_MS`), to be killed. */
    spawn(workerId: string, sweepIntervalMs: number) {
      const child = startService('worker/main.ts', {
        ...env.env,
        WORKER_ID: workerId,
        DLQ_SWEEP_INTERVAL_MS: String(sweepIntervalMs),
      });
      own.children.push(child);
      return child;
    },
  };
}

describe('the dead-letter sweep, one worker per fleet', () => {
  it('runs in the lease holder only, and another worker takes over when the holder closes', async () => {
    const f = await fleet();
    // A job a crashed worker left in the failed set: only a sweep settles it.
    const producer = openProducerSide(f.env.config, f.resources);
    const left = await failedJob(producer.system);

    const a = f.start('worker-a');
    expect(await a.sweep.round()).toBe(true);
    expect(await producer.queues.deadLetter.getJob(String(left.id))).toBeDefined();
    expect(await f.holder()).toMatch(/^worker-a:/);

    const b = f.start('worker-b');
    expect(await b.sweep.round()).toBe(false);
    expect(await b.sweep.round()).toBe(false);
    expect(b.sweep.sweeps).toBe(0);
    expect(a.sweep.sweeps).toBeGreaterThan(0);

    // Closing hands the lease over at once: b's next round sweeps, without waiting for an expiry.
    await a.worker.stop();
    expect(await f.holder()).toBeNull();
    expect(await b.sweep.round()).toBe(true);
    expect(await f.holder()).toMatch(/^worker-b:/);
    expect(b.sweep.sweeps).toBe(1);
    await producer.close();
  });

  it('is taken over when the holder dies, once its lease expires', async () => {
    const f = await fleet();
    // A holder renewing every 500 ms, on a lease of three rounds (1.5 s).
    const doomed = f.spawn('doomed', 500);
    await waitFor('the worker process to hold the lease', async () => (await f.holder())?.startsWith('doomed:'));
    // Only the first round of the in-process worker is its timer's: it finds the lease taken.
    const heir = f.start('heir');
    await waitFor(
      'the lease renewed by its holder',
      async () => (await f.resources.redis.pttl(queueKeys(f.env.config).sweepLease)) > 1000,
    );
    expect(await heir.sweep.round()).toBe(false);

    doomed.process.kill('SIGKILL');
    await doomed.exited;
    // No one releases the lease: it is handed over by its expiry alone.
    await waitFor('the lease to pass to the living worker', () => heir.sweep.round());
    expect(await f.holder()).toMatch(/^heir:/);
    expect(heir.sweep.sweeps).toBe(1);
  });

  it('stops a pass between jobs once the sweeper no longer holds the lease', async () => {
    const f = await fleet();
    const producer = openProducerSide(f.env.config, f.resources);
    const left = await failedJob(producer.system);
    const { queues, lifecycle } = producer.system;
    const settler = new Settler({
      queues,
      lifecycle,
      effects: new EffectBars(f.resources.stores),
      logger: silentLogger,
    });
    // Asked before each job whether to go on, a pass told no settles nothing; told yes, the job.
    expect(await settler.sweep(() => false)).toBe(0);
    expect(await (await queues.operations.getJob(String(left.id)))?.getState()).toBe('failed');
    expect(await settler.sweep(() => true)).toBe(1);
    expect(await queues.deadLetter.getJob(String(left.id))).toBeDefined();
    await producer.close();
  });
});
