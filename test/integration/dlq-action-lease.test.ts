// A bulk DLQ action's runner paused past its lease (SIGSTOP, a stalled host) while a resume took the
// action over: when it wakes it must stop before its next job, not run the plan beside the resume,
// and must not overwrite a job's settled result with its own stale one. Forced through onProgress
// (the runner's step between jobs) and the lease key: no sleeps, no real pause.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { readMinuteSeries } from '../../shared/lifecycle/minute-series.js';
import { DlqActionLeaseLostError, DlqActionStore } from '../../shared/operator/dlq-actions.js';
import { OperatorConsole } from '../../shared/operator/operator-console.js';
import { usePipeline, waitForDeadLettered } from '../helpers/pipeline.js';
import { testEnv } from '../helpers/stack.js';

const env = testEnv({ JOB_ATTEMPTS: 2 });
const pipeline = usePipeline(env);
let actions: DlqActionStore;
const owner = randomUUID();
let poison: string[];

const operatorWith = (store: DlqActionStore) => {
  const { resources, producer } = pipeline;
  return new OperatorConsole({
    stores: resources.stores,
    queues: [producer.queues],
    dlq: producer.system.console,
    actions: store,
    activity: (minutes, now) => readMinuteSeries(resources.redis, [producer.system.keys], minutes, now),
    historyRetentionDays: env.config.HISTORY_RETENTION_DAYS,
  });
};

beforeAll(async () => {
  const { resources, producer } = pipeline;
  actions = new DlqActionStore(resources.redis, producer.system.keys);
  poison = [];
  for (let i = 0; i < 3; i++) poison.push(await producer.enqueue('create-user', { user: { id: owner, name: i } }));
  // The plan reads the DLQ entries (CI once planned 1 of 3: two moves between decision and entry).
  await waitForDeadLettered(resources.stores, producer.queues.deadLetter, poison);
});

describe('a bulk action runner paused past its lease', () => {
  it('stops before its next job once another process holds the lease', async () => {
    const { resources, producer } = pipeline;
    const leaseKey = (id: string) => producer.system.keys.dlqActionLease(id);
    // The runner's store, whose first record finds the lease taken: the runner "slept" past its
    // lease during its first job, and a resume took the action meanwhile.
    class PausedPastLease extends DlqActionStore {
      private paused = false;
      override async record(...args: Parameters<DlqActionStore['record']>) {
        if (!this.paused) {
          this.paused = true;
          await resources.redis.set(leaseKey(args[0]), 'the-resume', 'PX', 30_000);
        }
        return super.record(...args);
      }
    }
    const paused = operatorWith(new PausedPastLease(resources.redis, producer.system.keys));
    const plan = await paused.planDlq('redrive', { user: owner });
    expect(plan.count).toBe(3);
    let actionId = '';
    const run = paused.runDlq(plan, {
      by: 'test',
      ratePerSecond: 1000,
      onSaved: (id) => {
        actionId = id;
      },
    });
    await expect(run).rejects.toBeInstanceOf(DlqActionLeaseLostError);
    const action = await paused.dlqAction(actionId);
    expect(action?.progress.size).toBe(1);
    // The two jobs after the first are left to the resume: still in the DLQ, never redriven.
    const left = plan.jobIds.filter((id) => !action?.progress.has(id));
    expect(left).toHaveLength(2);
    for (const jobId of left) expect(await producer.system.console.show(jobId)).toBeDefined();
    // The resume's lease is untouched by the runner that lost it (its end writes nothing).
    expect(await resources.redis.get(leaseKey(actionId))).toBe('the-resume');
  });

  it("a stale runner's busy does not overwrite a job the resume settled", async () => {
    const id = await actions.create({
      action: 'redrive',
      where: {},
      jobs: [{ jobId: 'j1', gen: 1 }],
      by: 'test',
      createdAt: new Date().toISOString(),
      ratePerSecond: 1,
    });
    const resume = await actions.acquireLease(id);
    if (!resume) throw new Error('no lease');
    await actions.record(id, 'j1', 'done', resume);
    const stale = await actions.record(id, 'j1', 'busy:lock lost', { token: 'the-paused-runner' });
    expect(stale.leaseLost).toBe(true);
    expect((await actions.get(id))?.progress.get('j1')).toBe('done');
    await resume.end('finished');
  });
});
