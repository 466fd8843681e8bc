// Screenshots of the operator console for the docs (docs/console/*.png): starts a small stack in
// this process (dynalite in memory, a worker and the board on an isolated queue prefix of the local
// Redis, or a redis-server of its own), produces a few jobs with failures (poison payloads, updates
// of users that do not exist, which dead-letter after their retries), redrives one as an operator,
// then takes the console's search, a job's timeline and the charts in Chromium.
//   npx tsx scripts/console-screenshots.ts            # needs /usr/bin/chromium (or CHROMIUM=path)
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { type Board, startBoard } from '../board/board-server.js';
import { redisAnswers, startDynalite, startThrowawayRedis } from '../devtools/local-services.js';
import { OperationGenerator } from '../producer/generator.js';
import { createDynamoClients } from '../shared/dynamo/client.js';
import { ensureTable } from '../shared/dynamo/table.js';
import { loadConfig } from '../shared/runtime/config.js';
import { createDynamoStores } from '../shared/store/index.js';
import { openJobSystem } from '../shared/wiring.js';
import { WorkerMetrics } from '../worker/metrics.js';
import { startWorkerService } from '../worker/worker-service.js';

const OUT = 'docs/console';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const credentials = { username: 'alice', password: 'screenshot-secret' };
const silent = pino({ level: 'silent' });

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The local Redis on an isolated prefix if it answers, else a redis-server of our own. */
async function openRedis() {
  const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) return { url, stop: async () => undefined };
  return startThrowawayRedis();
}

async function main() {
  const dynalite = await startDynalite();
  const redisServer = await openRedis();
  const id = randomUUID().slice(0, 8);
  // dynalite takes any credentials; the SDK reads them from the environment.
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  const config = loadConfig({
    REDIS_URL: redisServer.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    QUEUE_PREFIX: `djqshots-${id}`,
    DYNAMODB_TABLE_NAME: `djq-shots-${id}`,
    JOB_ATTEMPTS: '3',
    JOB_BACKOFF_MS: '50',
    DLQ_SWEEP_INTERVAL_MS: '500',
    HISTORY_FLUSH_MS: '100',
    METRICS_PORT: '0',
    LOG_LEVEL: 'silent',
  });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const dynamo = createDynamoClients(config);
  await ensureTable(dynamo.client, config.DYNAMODB_TABLE_NAME);
  const stores = createDynamoStores(dynamo, config);
  // The worker's own client, observed as worker/main.ts observes it: the charts' capacity and throttles.
  const metrics = new WorkerMetrics(false);
  const workerDynamo = createDynamoClients(config, metrics.dynamoCall);
  const workerStores = createDynamoStores(workerDynamo, config);
  const worker = startWorkerService({ config, stores: workerStores, redis, logger: silent, metrics });
  const producer = openJobSystem({ config, redis, stores, logger: silent, actor: 'producer' });
  const operator = openJobSystem({ config, redis, stores, logger: silent, actor: 'board:alice' });
  let board: Board | undefined;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  try {
    // Produce: the generator's mix with some poison, then updates of users nobody created.
    const generator = new OperationGenerator({ mix: config.OPERATION_MIX, batchSize: 20, invalidRate: 0.1 });
    const jobs = Array.from({ length: 60 }, () => generator.next());
    const missing = Array.from({ length: 4 }, () => ({
      id: randomUUID(),
      name: 'update-user',
      data: { userId: randomUUID(), changes: { age: 40 } },
    }));
    for (let i = 0; i < jobs.length; i += 20) await producer.lifecycle.enqueue(jobs.slice(i, i + 20));
    await producer.lifecycle.enqueue(missing);
    const all = [...jobs, ...missing];
    await until('every job decided', async () => {
      const records = await Promise.all(all.map((j) => stores.jobs.get(j.id)));
      return records.every((r) => r?.outcome !== undefined);
    });
    // An operator redrives one dead-lettered job: its timeline shows the move and the redrive.
    const redriven = missing[0]?.id ?? '';
    await until('the job in the DLQ', async () => Boolean(await producer.queues.deadLetter.getJob(redriven)));
    await operator.lifecycle.redrive(redriven);
    await until('the redriven job decided again', async () => (await stores.jobs.get(redriven))?.outcome);
    await worker.system.history.flush();
    await operator.history.flush();
    await sleep(6000); // the workers' minute series flush every 5 s

    board = await startBoard({
      config: { ...config, BOARD_USERNAME: credentials.username, BOARD_PASSWORD: credentials.password },
      redis,
      logger: silent,
      host: '127.0.0.1',
      port: 0,
    });
    const page = await browser.newPage({ httpCredentials: credentials, viewport: { width: 1400, height: 900 } });
    mkdirSync(OUT, { recursive: true });
    const open = async (path: string) => {
      await page.goto(`${board?.origin}${path}`);
      await page.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
    };

    await open('/console');
    await page.locator('#results tbody tr').first().waitFor();
    await page.locator('#search select[name="state"]').selectOption('dead-lettered');
    await page.locator('#search button[type="submit"]').click();
    await page.locator('#search-status', { hasText: /^\d+ job\(s\)/ }).waitFor();
    await until('the dead-lettered jobs alone', async () => {
      const states = await page.locator('#results tbody tr td:nth-child(3)').allTextContents();
      return states.length > 0 && states.every((s) => s === 'dead-lettered');
    });
    await page.locator('#search-section').screenshot({ path: `${OUT}/search.png` });

    await open(`/console?job=${encodeURIComponent(redriven)}`);
    await page.locator('#timeline li').first().waitFor();
    await page.locator('#timeline-section').screenshot({ path: `${OUT}/timeline.png` });

    await page.locator('#charts svg').nth(7).waitFor();
    await page.locator('#charts-section').screenshot({ path: `${OUT}/charts.png` });
    process.stdout.write(`wrote ${OUT}/search.png, ${OUT}/timeline.png, ${OUT}/charts.png\n`);
  } finally {
    await browser.close();
    await board?.close();
    await worker.close(10_000);
    await producer.close();
    await operator.close();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.QUEUE_PREFIX}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
    dynamo.close();
    workerDynamo.close();
    await redisServer.stop();
    await dynalite.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`console-screenshots: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
