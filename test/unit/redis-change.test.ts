// The shard watcher's recovery, shared by a process's shards (worker/redis-change.ts), driven step
// by step with recoveries that finish when the test says. The real thing: test/integration/redis-change.test.ts.
import { describe, expect, it } from 'vitest';
import { singleFlight } from '../../worker/redis-change.js';

/** A recovery each call of which finishes when the test says. */
function heldRecoveries() {
  const started: ((finished: boolean) => void)[] = [];
  const run = () => new Promise<boolean>((resolve) => started.push(resolve));
  return { started, run };
}

/** Turns of the event loop until `done` (a recovery begins on the turn after its first caller). */
async function waitUntil(done: () => boolean) {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(done()).toBe(true);
}

describe('singleFlight', () => {
  it('gives the shards that look together one recovery', async () => {
    const { started, run } = heldRecoveries();
    const recover = singleFlight(run);
    const a = recover();
    await Promise.resolve();
    const b = recover();
    expect(b).toBe(a);
    await waitUntil(() => started.length === 1);
    started[0]?.(true);
    expect(await Promise.all([a, b])).toEqual([true, true]);
    expect(started).toHaveLength(1);
  });

  it('gives a caller that comes while a recovery runs the next one, not the one that began before it', async () => {
    const { started, run } = heldRecoveries();
    const recover = singleFlight(run);
    const first = recover();
    await waitUntil(() => started.length === 1);
    // Shard B's server changes now: the recovery running began before, its scan may have passed
    // the jobs B's change dropped. B must not take its result as covering B.
    const second = recover();
    const third = recover();
    expect(third).toBe(second);
    let secondDone = false;
    void second.then(() => {
      secondDone = true;
    });
    started[0]?.(true);
    expect(await first).toBe(true);
    await waitUntil(() => started.length === 2);
    expect(secondDone).toBe(false);
    started[1]?.(false);
    expect(await second).toBe(false);
    // Nothing running: the next caller starts one at once.
    const fourth = recover();
    await waitUntil(() => started.length === 3);
    started[2]?.(true);
    expect(await fourth).toBe(true);
  });

  it('runs the next recovery after one that failed', async () => {
    let calls = 0;
    let fail: (error: Error) => void = () => undefined;
    const recover = singleFlight(() => {
      calls += 1;
      return calls === 1 ? new Promise<boolean>((_, reject) => (fail = reject)) : Promise.resolve(true);
    });
    const first = recover().catch((error: Error) => error.message);
    await waitUntil(() => calls === 1);
    const second = recover();
    fail(new Error('DynamoDB failed'));
    expect(await first).toBe('DynamoDB failed');
    expect(await second).toBe(true);
    expect(calls).toBe(2);
  });
});
