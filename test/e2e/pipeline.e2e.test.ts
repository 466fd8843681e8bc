// End to end: the producer and worker processes as users run them, then the ledger checker reads
// the final state straight from Redis and DynamoDB.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLedger } from '../../shared/operator/check.js';
import { DecidedOutcomes } from '../../shared/operator/decided-outcomes.js';
import { openJobSystem, openQueueView } from '../../shared/wiring.js';
import { silentLogger, waitFor } from '../helpers/pipeline.js';
import { type Service, startService, stopService } from '../helpers/processes.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

let resources: TestResources | undefined;
const services: Service[] = [];

afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => stopService(s, 'SIGKILL')));
  await resources?.cleanup();
});

async function check(env: ReturnType<typeof testEnv>) {
  resources ??= await openTestResources(env.config);
  const system = openJobSystem({ ...resources, config: env.config, logger: silentLogger, actor: 'test' });
  try {
    return await checkLedger({ system });
  } finally {
    await system.close();
  }
}

describe('end to end', () => {
  it('npm start --until-drained: 500 operations through a producer and 2 worker processes', async () => {
    const env = testEnv({ INVALID_JOB_RATE: 0.02, BOARD_PORT: 0 });
    const cwd = mkdtempSync(join(tmpdir(), 'djq-stack-'));
    const stack = startService(
      'stack/start.ts',
      env.env,
      ['--workers', '2', '--max-operations', '500', '--until-drained', '--interval', '10', '--per-tick', '5'],
      cwd,
    );
    services.push(stack);
    const { code } = await stack.exited;
    rmSync(cwd, { recursive: true, force: true });
    expect(code, stack.output().slice(-3000)).toBe(0);
    const lastLine = stack.output().trim().split('\n').at(-1) ?? '';
    const summary = JSON.parse(lastLine) as { produced: number; completed: number; deadLettered: number };
    expect(summary.produced).toBe(500);
    expect(summary.completed + summary.deadLettered).toBe(500);
    expect(summary.deadLettered).toBeGreaterThan(0); // the poison jobs (2%)

    const report = await check(env);
    expect(report).toMatchObject({
      enqueued: 500,
      pending: 0,
      lost: 0,
      duplicated: 0,
      projectionMismatches: 0,
      deadLettersWithoutReason: 0,
    });
    expect(report.completed).toBe(summary.completed);
    expect(report.deadLettered).toBe(summary.deadLettered);
    expect(report.events).toBeGreaterThan(100);
  });

  it('kill -9 of a worker mid-run loses nothing and applies nothing twice', async () => {
    // Short locks so the killed worker's jobs come back quickly (production keeps 30 s).
    const env = testEnv({
      LOCK_DURATION_MS: 2000,
      STALLED_INTERVAL_MS: 1000,
      MAX_OPERATIONS: 600,
      OPERATION_INTERVAL_MS: 10,
      OPERATIONS_PER_TICK: 5,
      FAULT_LATENCY_MS: 5,
    });
    const worker = (id: string) => startService('worker/main.ts', { ...env.env, WORKER_ID: id });
    services.push(worker('w1'), worker('w2'), startService('producer/main.ts', env.env));
    resources = await openTestResources(env.config);
    const { ledger } = openQueueView(env.config, resources.redis);
    const decided = new DecidedOutcomes(resources.stores.jobs);
    await waitFor('work in flight', async () => (await decided.of((await ledger.readEnqueued()).keys())).size > 100);
    const victim = services[0] as Service;
    victim.process.kill('SIGKILL');
    await victim.exited;
    await sleep(500);
    services.push(worker('w3'));
    await waitFor('the producer to finish', async () => (services[2] as Service).process.exitCode === 0, 60_000);
    await waitFor(
      'every job to finish',
      async () => {
        const report = await check(env);
        return report.enqueued === 600 && report.pending === 0 ? report : undefined;
      },
      60_000,
    );
    const report = await check(env);
    expect(report).toMatchObject({ enqueued: 600, lost: 0, duplicated: 0, projectionMismatches: 0 });
    expect(report.completed + report.deadLettered).toBe(600);
  });

  it('SIGTERM drains: in-flight jobs finish, the worker exits 0, none is left active', async () => {
    const env = testEnv({
      FAULT_LATENCY_MS: 100,
      WORKER_CONCURRENCY: 8,
      MAX_OPERATIONS: 40,
      OPERATION_INTERVAL_MS: 1,
      OPERATIONS_PER_TICK: 40,
      OPERATION_MIX: 'create=1',
    });
    resources = await openTestResources(env.config);
    const { queues } = openQueueView(env.config, resources.redis);
    const producer = startService('producer/main.ts', env.env);
    services.push(producer);
    expect((await producer.exited).code).toBe(0);
    const worker = startService('worker/main.ts', env.env);
    services.push(worker);
    await waitFor('jobs in flight', async () => (await queues.operations.getActiveCount()) > 0);
    const { code } = await stopService(worker, 'SIGTERM');
    expect(code, worker.output()).toBe(0);
    expect(await queues.operations.getActiveCount()).toBe(0);
    services.push(startService('worker/main.ts', env.env));
    await waitFor('the rest to finish', async () => (await check(env)).completed === 40, 30_000);
    expect(await check(env)).toMatchObject({ enqueued: 40, completed: 40, lost: 0, duplicated: 0 });
    await queues.close();
  });
});
