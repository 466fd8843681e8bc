// The logs a person reads at the default level: a producer and a worker (real processes) print their
// lifecycle, not a line per job; at debug, every job's lines are there.
import { afterEach, describe, expect, it } from 'vitest';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import { openQueueView } from '../../shared/wiring.js';
import { waitFor } from '../helpers/pipeline.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

const JOBS = 60;
const services: Service[] = [];
let resources: TestResources | undefined;

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
  await resources?.cleanup();
  resources = undefined;
});

/** Runs JOBS jobs through one producer and one worker at `level`; their JSON log lines. */
async function run(level: string) {
  const { env, config } = testEnv({
    LOG_LEVEL: level,
    MAX_OPERATIONS: JOBS,
    OPERATIONS_PER_TICK: 10,
    OPERATION_INTERVAL_MS: 10,
    INVALID_JOB_RATE: 0,
    // Creates and reads only: no update racing a delete, so no retry lines in the count.
    OPERATION_MIX: 'create=1,get=1',
  });
  resources = await openTestResources(config);
  const worker = startService('worker/main.ts', { ...env, WORKER_ID: 'w1' });
  const producer = startService('producer/main.ts', env);
  services.push(worker, producer);
  expect((await producer.exited).code, producer.output()).toBe(0);
  const { ledger } = openQueueView(config, resources.redis);
  const decided = new DecidedOutcomes(resources.stores.jobs);
  await waitFor(
    'every job to finish',
    async () => (await decided.of((await ledger.readEnqueued()).keys())).size >= JOBS,
  );
  expect((await stopService(worker)).code).toBe(0);
  const lines = `${producer.output()}\n${worker.output()}`.split('\n').filter((l) => l.startsWith('{'));
  return lines.map((l) => JSON.parse(l) as { msg: string; level: number });
}

describe('log volume', () => {
  it(`at info, ${JOBS} jobs print a handful of lifecycle lines, not one per job`, async () => {
    const lines = await run('info');
    expect(lines.length, lines.map((l) => l.msg).join('\n')).toBeLessThan(15);
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^producer done: 60 jobs enqueued/)]),
    );
  });

  it('at debug, every job is there', async () => {
    const lines = await run('debug');
    expect(lines.filter((l) => / completed in [0-9.]+ ms \([0-9.]+ of them in DynamoDB\)$/.test(l.msg)).length).toBe(
      JOBS,
    );
  });
});
