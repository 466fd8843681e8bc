// Scenario 7: the producer killed (-9) in the middle of an addBulk of thousands of jobs, twice.
// After a restart (which re-adds what its last, uncommitted ledger record has and Redis lacks),
// what the ledger says was enqueued is exactly what Redis holds; then workers finish it all.
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { ChaosStack } from '../stack.js';

const ROUNDS = 2;

/** Ledger job ids missing from Redis (neither in the queue nor in the DLQ), and queue jobs not in the ledger. */
async function compare(stack: ChaosStack): Promise<{ recorded: number; missing: number; extra: number }> {
  const ledger = await stack.ledger.readEnqueued();
  const ids = [...ledger.keys()];
  const { operations, deadLetter } = stack.queues;
  let missing = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    const pipeline = stack.redis.pipeline();
    for (const id of ids.slice(i, i + 1000)) {
      pipeline.exists(`${operations.keys['']}${id}`);
      pipeline.exists(`${deadLetter.keys['']}${id}`);
    }
    const answers = ((await pipeline.exec()) ?? []).map(([, n]) => Number(n));
    for (let j = 0; j < answers.length; j += 2) if (answers[j] === 0 && answers[j + 1] === 0) missing++;
  }
  const queued = await operations.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
  const extra = queued.filter((j) => j && !ledger.has(String(j.id))).length;
  return { recorded: ids.length, missing, extra };
}

export async function producerKill(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const stack = await ChaosStack.start('producer-kill', { OPERATION_MIX: 'create=3,batch=1' });
  try {
    const perTick = Math.max(500, Math.ceil(jobs / 4));
    const kills: { recordsBefore: number; missingAfterKill: number; readded: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const records = await stack.redis.xlen(stack.ledger.enqueuedKey);
      const producer = stack.startProducer({ OPERATION_INTERVAL_MS: 10, OPERATIONS_PER_TICK: perTick });
      // Kill it the moment it writes its next ledger record: its addBulk is then under way.
      while ((await stack.redis.xlen(stack.ledger.enqueuedKey)) <= records && producer.process.exitCode === null)
        await sleep(1);
      producer.process.kill('SIGKILL');
      await producer.exited;
      const afterKill = await compare(stack);
      // The restart recovers, adds one more job and stops.
      const restarted = stack.startProducer({ MAX_OPERATIONS: 1 });
      await restarted.exited;
      const readded = /re-added jobs/.test(restarted.output()) ? afterKill.missing : 0;
      kills.push({ recordsBefore: records, missingAfterKill: afterKill.missing, readded });
    }
    const final = await compare(stack);
    for (let i = 0; i < 4; i++) stack.startWorker();
    const drained = await stack.waitDrained({ timeoutMs: 120_000 + final.recorded * 30 });
    const report = await stack.check();
    const hitMidBulk = kills.filter((k) => k.missingAfterKill > 0).length;
    return result({
      scenario: 'producer-kill',
      size: jobs,
      report,
      faults: {
        producerKills: kills.length,
        killsMidAddBulk: hitMidBulk,
        jobsMissingAfterKills: kills.reduce((n, k) => n + k.missingAfterKill, 0),
        jobsPerAddBulk: perTick,
      },
      faultSummary: `kill -9 of the producer ×${kills.length} mid-addBulk (${perTick} jobs)`,
      expectations: [
        expect(
          'the kills landed mid-addBulk (ledger ahead of Redis)',
          hitMidBulk > 0,
          kills.map((k) => `${k.missingAfterKill} missing`).join(', '),
        ),
        expect(
          'after the restart, Redis holds exactly what the ledger recorded',
          final.missing === 0 && final.extra === 0,
          `${final.recorded} recorded, ${final.missing} missing, ${final.extra} not in the ledger`,
        ),
        expect('workers then finished every job', drained),
      ],
      startedAt,
      extra: { kills },
    });
  } finally {
    await stack.stop();
  }
}
