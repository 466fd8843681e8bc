// Scenario 8: bad input at the edges. Every malformed environment variable stops the producer and
// the worker with exit 2 and one message naming it, before they connect to anything; jobs with a
// huge payload, wrong types or an unknown operation are dead-lettered with the reason after one
// attempt, and the worker keeps going.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { freePort } from '../../devtools/local-services.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { CONFIG_KEYS, ConfigError, loadConfig } from '../../shared/runtime/config.js';
import { isRunning, type Service, startService } from '../processes.js';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { ChaosStack } from '../stack.js';

/** Process-level cases: the first SMALL_CASES cover each kind once (wrong type, range, mix, URL). */
export const ENV_CASES: { key: string; value: string; kind: string }[] = [
  { key: 'OPERATIONS_PER_TICK', value: 'lots', kind: 'wrong type' },
  { key: 'WORKER_CONCURRENCY', value: '0', kind: 'out of range' },
  { key: 'OPERATION_MIX', value: 'create=30,explode=5', kind: 'unknown operation in the mix' },
  { key: 'REDIS_URL', value: 'http://127.0.0.1:6379', kind: 'bad URL' },
  { key: 'AWS_ENDPOINT_URL_DYNAMODB', value: 'localhost:8000', kind: 'bad URL' },
  { key: 'INVALID_JOB_RATE', value: '1.5', kind: 'out of range' },
  { key: 'OPERATION_MIX', value: 'create', kind: 'malformed mix' },
  { key: 'REDIS_URL', value: 'not a url', kind: 'bad URL' },
  { key: 'JOB_ATTEMPTS', value: '2.5', kind: 'wrong type' },
  { key: 'FAULT_THROTTLE_RATE', value: 'often', kind: 'wrong type' },
  { key: 'LOCK_DURATION_MS', value: '10', kind: 'out of range' },
  { key: 'METRICS_PORT', value: '70000', kind: 'out of range' },
  { key: 'CREATE_TABLES', value: 'maybe', kind: 'wrong type' },
  { key: 'LOG_LEVEL', value: 'loud', kind: 'unknown value' },
  { key: 'QUEUE_NAME', value: 'ops:1', kind: 'bad name' },
  { key: 'DYNAMODB_TABLE_NAME', value: 'x', kind: 'bad name' },
  { key: 'MAX_OPERATIONS', value: '-1', kind: 'out of range' },
  { key: 'DYNAMODB_MAX_ATTEMPTS', value: '0', kind: 'out of range' },
  { key: 'SHUTDOWN_TIMEOUT_MS', value: '10s', kind: 'wrong type' },
];
const SMALL_CASES = 4;

/** Values tried on every variable in-process; a variable that accepts them all is free text. */
const BAD_CANDIDATES = ['not valid: 1.5 /x', '-1', '1.5', '99999999999', 'x', 'http://x'];

/** For every variable that can be malformed, a value the config rejects naming that variable. */
export function everyMalformedVariable(): { covered: string[]; freeText: string[]; unnamed: string[] } {
  const covered: string[] = [];
  const freeText: string[] = [];
  const unnamed: string[] = [];
  for (const key of CONFIG_KEYS) {
    let rejected = false;
    for (const value of BAD_CANDIDATES) {
      try {
        loadConfig({ [key]: value });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        rejected = true;
        if (error.message.includes(key)) covered.push(key);
        else unnamed.push(key);
        break;
      }
    }
    if (!rejected) freeText.push(key);
  }
  return { covered, freeText, unnamed };
}

/** A TCP server that only counts who connects: Redis and DynamoDB stand-ins for "before connecting". */
async function connectionCounter(): Promise<{ port: number; connections: () => number; close: () => void }> {
  let count = 0;
  const server: Server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, connections: () => count, close: () => server.close() };
}

interface EnvOutcome {
  key: string;
  value: string;
  service: string;
  code: number | null;
  namesKey: boolean;
  oneMessage: boolean;
}

async function runEnvCases(cases: typeof ENV_CASES): Promise<{ outcomes: EnvOutcome[]; connections: number }> {
  const redis = await connectionCounter();
  const dynamo = await connectionCounter();
  const base = {
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${dynamo.port}`,
    AWS_ACCESS_KEY_ID: 'chaos',
    AWS_SECRET_ACCESS_KEY: 'chaos',
    METRICS_PORT: '0',
  };
  const outcomes: EnvOutcome[] = [];
  const jobs = cases.flatMap((c) => ['producer/main.ts', 'worker/main.ts'].map((file) => ({ ...c, file })));
  try {
    // Two at a time: each is a node start-up, and the cores are shared.
    for (let i = 0; i < jobs.length; i += 2) {
      const batch = jobs.slice(i, i + 2).map((c) => ({ c, s: startService(c.file, { ...base, [c.key]: c.value }) }));
      for (const { c, s } of batch) outcomes.push(await envOutcome(c, s));
    }
  } finally {
    redis.close();
    dynamo.close();
  }
  return { outcomes, connections: redis.connections() + dynamo.connections() };
}

async function envOutcome(c: { key: string; value: string; file: string }, s: Service): Promise<EnvOutcome> {
  const { code } = await s.exited;
  const out = s.output();
  return {
    key: c.key,
    value: c.value,
    service: c.file.split('/')[0] ?? c.file,
    code,
    namesKey: out.includes(`${c.key}=`),
    oneMessage: out.split('Invalid configuration').length === 2 && !out.includes('    at '),
  };
}

/** Jobs no producer would make, with the reason the DLQ must give. */
function badJobs(): { name: string; data: unknown; reason: RegExp; what: string }[] {
  const user = { id: randomUUID(), name: 'Ada', email: 'ada@example.com', age: 36 };
  return [
    {
      what: 'huge payload',
      name: 'create-user',
      data: { user: { ...user, name: 'x'.repeat(200_000) } },
      reason: /over the \d+-byte limit/,
    },
    {
      what: 'wrong types',
      name: 'create-user',
      data: { user: { ...user, id: randomUUID(), name: 42, age: 'forty' } },
      reason: /invalid create-user payload/,
    },
    {
      what: 'unknown operation',
      name: 'drop-table',
      data: { table: 'users' },
      reason: /unknown operation "drop-table"/,
    },
    { what: 'no payload', name: 'get-user', data: null, reason: /invalid get-user payload/ },
    { what: 'a string payload', name: 'update-user', data: 'age=5', reason: /invalid update-user payload/ },
    {
      what: 'empty changes',
      name: 'update-user',
      data: { userId: randomUUID(), changes: {} },
      reason: /changes needs/,
    },
  ];
}

export async function badInput(goodJobs: number, options: { allEnvCases?: boolean } = {}): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const inProcess = everyMalformedVariable();
  const cases = options.allEnvCases ? ENV_CASES : ENV_CASES.slice(0, SMALL_CASES);
  const env = await runEnvCases(cases);
  const wrongEnv = env.outcomes.filter((o) => o.code !== 2 || !o.namesKey || !o.oneMessage);

  const stack = await ChaosStack.start('bad-input', { JOB_ATTEMPTS: 5 });
  try {
    const worker = stack.startWorker();
    const options = operationJobOptions(stack.config);
    const bad = badJobs().map((b) => ({ ...b, id: randomUUID() }));
    const goodIds: string[] = [];
    // Bad jobs spread among good ones, so the worker must keep going after each.
    const every = Math.max(1, Math.floor(goodJobs / bad.length));
    let next = 0;
    for (let i = 0; i < goodJobs; i++) {
      const jobs = [
        {
          id: randomUUID(),
          name: 'create-user',
          data: { user: { id: randomUUID(), name: `User ${i}`, email: `u${i}@example.com`, age: 30 } },
        },
      ];
      goodIds.push(jobs[0]?.id ?? '');
      const b = i % every === 0 ? bad[next++] : undefined;
      if (b) jobs.push({ id: b.id, name: b.name, data: b.data as never });
      await stack.ledger.recordEnqueued(jobs);
      for (const job of jobs) await stack.queues.operations.add(job.name, job.data, { ...options, jobId: job.id });
    }
    for (const b of bad.slice(next)) {
      await stack.ledger.recordEnqueued([{ id: b.id, name: b.name, data: b.data }]);
      await stack.queues.operations.add(b.name, b.data, { ...options, jobId: b.id });
    }
    const drained = await stack.waitDrained({ timeoutMs: 60_000 + goodJobs * 50 });
    const report = await stack.check();
    const outcomes = await stack.outcomes();
    const wrongJobs: string[] = [];
    for (const b of bad) {
      const entry = (await stack.queues.deadLetter.getJob(b.id))?.data as
        | { reason?: string; attemptsMade?: number }
        | undefined;
      if (!entry) wrongJobs.push(`${b.what}: not dead-lettered`);
      else if (!b.reason.test(entry.reason ?? '')) wrongJobs.push(`${b.what}: reason "${entry.reason?.slice(0, 120)}"`);
      else if (entry.attemptsMade !== 1) wrongJobs.push(`${b.what}: ${entry.attemptsMade} attempts`);
    }
    const goodDone = goodIds.filter((id) => outcomes.get(id) === 'completed').length;
    return result({
      scenario: 'bad-input',
      size: goodJobs,
      report,
      faults: {
        envCasesRun: env.outcomes.length,
        variablesRejectedInProcess: inProcess.covered.length,
        badJobs: bad.length,
      },
      faultSummary: `${cases.length} bad env values ×2 services, ${bad.length} bad jobs`,
      expectations: [
        expect(
          'every malformed variable is rejected naming it (in-process, all variables)',
          inProcess.unnamed.length === 0 && inProcess.covered.length >= 30,
          `${inProcess.covered.length} covered; free text: ${inProcess.freeText.join(', ')}${inProcess.unnamed.length ? `; unnamed: ${inProcess.unnamed.join(', ')}` : ''}`,
        ),
        expect(
          'producer and worker exit 2 with one message naming the variable',
          wrongEnv.length === 0,
          wrongEnv.length
            ? wrongEnv
                .slice(0, 3)
                .map((o) => `${o.service} ${o.key}=${o.value}: exit ${o.code}`)
                .join('; ')
            : `${env.outcomes.length} runs`,
        ),
        expect('before connecting to Redis or DynamoDB', env.connections === 0, `${env.connections} connections`),
        expect(
          'bad jobs dead-lettered after one attempt with a clear reason',
          wrongJobs.length === 0,
          wrongJobs.join('; ') || undefined,
        ),
        expect(
          'the worker kept going',
          drained && isRunning(worker.process) && goodDone === goodJobs,
          `${goodDone} of ${goodJobs} good jobs`,
        ),
      ],
      startedAt,
      extra: { envCases: env.outcomes },
    });
  } finally {
    await stack.stop();
  }
}
