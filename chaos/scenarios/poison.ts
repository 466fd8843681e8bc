// Scenario 5: poison jobs (INVALID_JOB_RATE): a malformed payload or an unknown operation is
// dead-lettered after exactly one attempt, whatever JOB_ATTEMPTS says, with the reason.

import { parseJob } from '../../shared/domain/payload.js';
import type { LedgerJob } from '../../shared/lifecycle/ledger.js';
import { expect, type ScenarioResult } from '../scenario.js';
import { workloadScenario } from '../workload.js';

export const POISON_ENV = { INVALID_JOB_RATE: 0.1, JOB_ATTEMPTS: 5 };

/** Whether the worker will reject this job's payload (the same parse the worker runs). */
export function isPoison(job: LedgerJob): boolean {
  try {
    parseJob(job.name, job.data);
    return false;
  } catch {
    return true;
  }
}

export async function poison(jobs: number): Promise<ScenarioResult> {
  return workloadScenario(
    'poison',
    jobs,
    { env: POISON_ENV, workers: 2, seconds: Math.max(5, jobs / 100) },
    async ({ deadLetters, stack }) => {
      const enqueued = await stack.ledger.readEnqueued();
      const poisonIds = [...enqueued.values()].filter(isPoison).map((j) => j.id);
      const byId = new Map(deadLetters.map((d) => [d.jobId, d]));
      const notDeadLettered = poisonIds.filter((id) => !byId.has(id));
      const notOnce = poisonIds.filter((id) => {
        const d = byId.get(id);
        return (
          d && (d.attemptsMade !== 1 || d.attempts.length !== 1 || d.attempts[0]?.errorClass !== 'PoisonPayloadError')
        );
      });
      return {
        faults: { invalidJobRate: POISON_ENV.INVALID_JOB_RATE, poisonJobs: poisonIds.length },
        faultSummary: `${poisonIds.length} poison jobs (${POISON_ENV.INVALID_JOB_RATE * 100}%)`,
        expectations: [
          expect('poison jobs were produced', poisonIds.length > 0, `${poisonIds.length}`),
          expect(
            'every poison job is dead-lettered',
            notDeadLettered.length === 0,
            `${notDeadLettered.length} missing`,
          ),
          expect(
            'after exactly one attempt, as PoisonPayloadError',
            notOnce.length === 0,
            notOnce.length ? `e.g. ${notOnce[0]}: attemptsMade ${byId.get(notOnce[0] ?? '')?.attemptsMade}` : undefined,
          ),
        ],
      };
    },
  );
}
