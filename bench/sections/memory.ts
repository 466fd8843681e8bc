// 6. Memory: one worker process (worker/main.ts against dynalite) fed a steady stream of jobs; its
// RSS at start, after the first checkpoint and after the last, then Redis used_memory with the
// default retention (completed jobs kept by count and age, the ledger streams).
import { setTimeout as sleep } from 'node:timers/promises';
import { queueKeys } from '../../shared/lifecycle/keys.js';
import { Ledger } from '../../shared/lifecycle/ledger.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { rssBytes, spawnWorker } from '../children.js';
import { progress } from '../report.js';
import { startWorker, withRunQueue } from '../run-queue.js';
import { type BenchServices, runConfig, watchTable } from '../support.js';
import { benchGenerator, fillQueue, generate, seededTable } from '../workload.js';

export interface MemoryResult {
  checkpoints: [number, number];
  rssStartMB: number;
  rssAtFirstMB: number;
  rssAtLastMB: number;
  rssMaxMB: number;
  /** RSS after the last checkpoint ÷ RSS after the first. */
  growth: number;
  redisUsedMemoryMB: number;
  redisKeptCompletedJobs: number;
  redisLedgerMB: number;
}

const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
/** Jobs waiting at most: enough to keep the worker busy, few enough not to count as retention. */
const BACKLOG = 3000;

export async function memory(services: BenchServices, checkpoints: [number, number]): Promise<MemoryResult> {
  const { config, env } = runConfig(services, 'memory');
  const seeded = await seededTable(config);
  return withRunQueue(services, config, async (run) => {
    const { redis, queue } = run;
    const ledger = new Ledger(redis, queueKeys(config), config.LEDGER_MAX_ENTRIES);
    const generator = benchGenerator(config, seeded);
    const options = operationJobOptions(config);
    const watch = watchTable(config);
    run.defer(() => watch.close());
    const child = await startWorker(
      run,
      () => spawnWorker(env),
      () => progress('memory', 'worker starting'),
    );
    await sleep(500);
    const pid = child.process.pid as number;
    const start = rssBytes(pid);
    let max = start;
    let atFirst = 0;
    const [first, last] = checkpoints;
    let enqueued = 0;
    for (;;) {
      const done = await watch.poll();
      const rss = rssBytes(pid);
      max = Math.max(max, rss);
      if (!atFirst && done >= first) atFirst = rss;
      if (done >= last) break;
      progress('memory', `${done}/${last} jobs, worker RSS ${mb(rss)} MB`);
      if (enqueued - done < BACKLOG && enqueued < last) {
        const count = Math.min(1000, last - enqueued);
        const jobs = generate(generator, count);
        // As the producer does at its default of one job per tick: a ledger entry per job, then the job.
        await Promise.all(jobs.map((job) => ledger.recordEnqueued([job])));
        await fillQueue(queue, jobs, options);
        watch.add(jobs.map((job) => job.id));
        enqueued += count;
      } else {
        await sleep(50);
      }
      if (child.process.exitCode !== null) throw new Error(`the worker exited: ${child.stderr()}`);
    }
    const atLast = rssBytes(pid);
    // Retention settles as the last jobs complete; then Redis holds what it keeps for good.
    await sleep(1000);
    const info = await services.control.info('memory');
    const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
    const ledgerBytes =
      ((await services.control.memory('USAGE', ledger.outcomesKey)) ?? 0) +
      ((await services.control.memory('USAGE', ledger.enqueuedKey)) ?? 0);
    return {
      checkpoints,
      rssStartMB: mb(start),
      rssAtFirstMB: mb(atFirst),
      rssAtLastMB: mb(atLast),
      rssMaxMB: mb(max),
      growth: atLast / atFirst,
      redisUsedMemoryMB: mb(used),
      redisKeptCompletedJobs: await queue.getCompletedCount(),
      redisLedgerMB: mb(ledgerBytes),
    };
  });
}
