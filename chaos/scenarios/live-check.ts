// Scenario: `djq check` on a live stack. The real CLI (a child process, as an operator runs it) checks
// the ledger every second while workers run, jobs retry (throttling and 5xx), poison jobs are
// dead-lettered and a worker is killed (-9) every few seconds. A check reads outcomes, the DLQ and
// the queue at different moments; it must never call a job lost that was only moving between them.
// After the run, the same CLI's final check passes.
import type { CheckReport } from '../../shared/operator/check.js';
import { runDjq } from '../djq.js';
import { expect, type ScenarioResult } from '../scenario.js';
import { sum } from '../stack.js';
import { workloadScenario } from '../workload.js';

export const LIVE_CHECK_ENV = {
  // Throttles injected at random, whatever the load, exercise the retry paths here; with flow
  // control they would also pull the fleet's rate down (docs/operations.md: When DynamoDB throttles, limits).
  FLOW_CONTROL: false,
  // Nor the SDK's adaptive retries, whose client-side limiter would slow each worker as well.
  DYNAMODB_RETRY_MODE: 'standard',
  FAULT_THROTTLE_RATE: 0.1,
  FAULT_ERROR_RATE: 0.1,
  DYNAMODB_MAX_ATTEMPTS: 1,
  JOB_ATTEMPTS: 4,
  INVALID_JOB_RATE: 0.05,
  FAULT_LATENCY_MS: 30,
  LOCK_DURATION_MS: 2000,
  STALLED_INTERVAL_MS: 1000,
  WORKER_CONCURRENCY: 8,
};

interface LiveCheck {
  code: number | null;
  report?: CheckReport;
  error?: string;
}

export async function liveCheck(jobs: number): Promise<ScenarioResult> {
  const checks: LiveCheck[] = [];
  return workloadScenario(
    'live-check',
    jobs,
    {
      env: LIVE_CHECK_ENV,
      workers: 3,
      seconds: Math.max(12, jobs / 40),
      killEveryMs: 3000,
      // The checks compete for the same two cores: give the run room to drain.
      timeoutMs: 180_000 + jobs * 40,
      // One check at a time, a second apart (each takes a moment to start and read everything).
      periodic: { everyMs: 1000, run: async (stack) => void checks.push(await djqCheck(stack.env)) },
    },
    async ({ kills, stack }) => {
      const final = await djqCheck(stack.env);
      const reported = checks.filter((c) => c.report);
      const withLoss = reported.filter((c) => (c.report?.lost ?? 0) > 0);
      const withDuplicate = reported.filter((c) => (c.report?.duplicated ?? 0) > 0);
      const broken = checks.filter((c) => !c.report || (c.code !== 0 && c.code !== 1));
      const max = (pick: (r: CheckReport) => number) =>
        Math.max(0, ...reported.map((c) => pick(c.report as CheckReport)));
      const finalReport = final.report;
      return {
        faults: {
          liveChecks: checks.length,
          liveChecksWithLoss: withLoss.length,
          maxPendingSeen: max((r) => r.pending),
          maxProjectionMismatchesSeen: max((r) => r.projectionMismatches),
          workersKilled: kills,
          failedAttemptsRetried: sum(stack.tally.retries),
        },
        faultSummary: `djq check ×${checks.length} live (kill -9 ×${kills}, ${sum(stack.tally.retries)} retries): ${withLoss.length} reported a loss`,
        expectations: [
          expect('workers were killed and jobs retried', kills >= 2 && sum(stack.tally.retries) > 0, `${kills} kills`),
          expect('djq check ran again and again during the run', reported.length >= 3, `${reported.length} checks`),
          expect(
            'every live check answered with its JSON report',
            broken.length === 0,
            broken.length ? `e.g. exit ${broken[0]?.code}: ${broken[0]?.error}` : undefined,
          ),
          expect(
            'no live check reported a job lost',
            withLoss.length === 0,
            withLoss.length
              ? `e.g. ${JSON.stringify(withLoss[0]?.report?.examples.lost)}`
              : `${reported.length} checks`,
          ),
          expect(
            'no live check reported a job applied twice',
            withDuplicate.length === 0,
            withDuplicate.length ? `e.g. ${JSON.stringify(withDuplicate[0]?.report?.examples.duplicated)}` : undefined,
          ),
          expect(
            'the final djq check passes (exit 0, lost 0, duplicated 0, mismatches 0, pending 0)',
            final.code === 0 &&
              finalReport?.lost === 0 &&
              finalReport.duplicated === 0 &&
              finalReport.projectionMismatches === 0 &&
              finalReport.pending === 0 &&
              finalReport.enqueued === jobs,
            finalReport
              ? `exit ${final.code}: ${JSON.stringify({ ...finalReport, examples: undefined })}`
              : final.error,
          ),
        ],
        extra: { liveChecks: checks.map((c) => c.report && { lost: c.report.lost, pending: c.report.pending }) },
      };
    },
  );
}

async function djqCheck(env: Record<string, string>): Promise<LiveCheck> {
  const run = await runDjq(env, ['check', '--json']);
  try {
    return { code: run.code, report: JSON.parse(run.stdout) as CheckReport };
  } catch {
    return { code: run.code, error: `${run.stdout.slice(0, 200)} ${run.stderr.slice(0, 300)}` };
  }
}
