// The mixed scenario (1 + 3 + 5) and the soak: workers killed (-9) and replaced, DynamoDB throttling
// and 5xx, and poison jobs, all at once; the soak runs 20,000 jobs and samples worker RSS and Redis
// memory, which must stay flat (bounded by retention), not grow with the number of jobs.
import { expect, type ScenarioResult } from '../scenario.js';
import { sum } from '../stack.js';
import { isFlat, type WorkloadRun, type WorkloadVerdict, workloadScenario } from '../workload.js';
import { KILL_WORKERS_ENV } from './kill-workers.js';
import { isPoison } from './poison.js';

export const MIXED_ENV = {
  ...KILL_WORKERS_ENV,
  // Throttles injected at random, whatever the load, exercise the retry paths here; with flow
  // control they would also pull the fleet's rate down (docs/operations.md: When DynamoDB throttles, limits).
  FLOW_CONTROL: false,
  // Nor the SDK's adaptive retries, whose client-side limiter would slow each worker as well.
  DYNAMODB_RETRY_MODE: 'standard',
  FAULT_THROTTLE_RATE: 0.1,
  FAULT_ERROR_RATE: 0.1,
  DYNAMODB_MAX_ATTEMPTS: 2,
  JOB_ATTEMPTS: 5,
  INVALID_JOB_RATE: 0.05,
};

async function mixedVerdict(run: WorkloadRun): Promise<WorkloadVerdict> {
  const { kills, deadLetters, stack } = run;
  const enqueued = await stack.ledger.readEnqueued();
  const poisonIds = [...enqueued.values()].filter(isPoison).map((j) => j.id);
  const byId = new Map(deadLetters.map((d) => [d.jobId, d]));
  // A worker killed in the middle of a poison job's only attempt leaves it active; it stalls and
  // runs once more. What must hold: every attempt was the poison rejection, never a backoff retry.
  const poisonWrong = poisonIds.filter((id) => {
    const d = byId.get(id);
    return (
      !d ||
      d.attempts.length === 0 ||
      d.attempts.some((a) => !['PoisonPayloadError', 'Stalled'].includes(a.errorClass) || a.retryable)
    );
  }).length;
  const poisonRunTwice = poisonIds.filter((id) => (byId.get(id)?.attemptsMade ?? 0) > 1);
  const retries = sum(stack.tally.retries);
  return {
    faults: {
      workersKilled: kills,
      failedAttemptsRetried: retries,
      poisonJobs: poisonIds.length,
      poisonRunAgainAfterKill: poisonRunTwice.length,
      stalledJobs: stack.tally.stalled,
    },
    faultSummary: `kill -9 ×${kills}, throttle+5xx 20% (${retries} retries), ${poisonIds.length} poison`,
    expectations: [
      expect('workers were killed mid-run', kills >= 2, `${kills} kills`),
      expect('jobs succeeded by retry', retries > 0, `${retries} retried attempts`),
      expect(
        'poison jobs dead-lettered, never retried by backoff',
        poisonIds.length > 0 && poisonWrong === 0,
        `${poisonWrong} of ${poisonIds.length} wrong; ${poisonRunTwice.length} ran again after a kill` +
          (poisonRunTwice[0]
            ? ` (e.g. ${poisonRunTwice[0]}: ${JSON.stringify(byId.get(poisonRunTwice[0])?.attempts)})`
            : ''),
      ),
    ],
  };
}

export async function mixed(jobs: number): Promise<ScenarioResult> {
  return workloadScenario(
    'mixed',
    jobs,
    { env: MIXED_ENV, workers: 4, seconds: Math.max(10, jobs / 60), killEveryMs: 3000 },
    mixedVerdict,
  );
}

export async function soak(jobs: number): Promise<ScenarioResult> {
  return workloadScenario(
    'soak',
    jobs,
    {
      // Shorter calls and more concurrency than `mixed`, so 4 workers keep up with the producer on
      // 2 cores: a growing backlog would show as Redis memory growth that retention cannot bound.
      env: { ...MIXED_ENV, FAULT_LATENCY_MS: 10, WORKER_CONCURRENCY: 16 },
      workers: 4,
      seconds: Math.max(20, jobs / 50),
      killEveryMs: 10_000,
      sampleEveryMs: Math.max(1000, Math.min(5000, jobs / 4)),
    },
    async (run) => {
      const base = await mixedVerdict(run);
      const { memory } = run;
      const rss = isFlat(memory.workerRssMb, 16);
      const redis = isFlat(memory.redisQueueMemoryMb, 4);
      return {
        ...base,
        expectations: [
          ...base.expectations,
          expect('long-lived worker RSS flat', rss.flat, rss.detail),
          expect('Redis memory (less the ledger and the DLQ) flat', redis.flat, redis.detail),
        ],
        extra: { ...memory },
      };
    },
  );
}
