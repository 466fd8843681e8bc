// The job runner. It settles every job (success, retry or poison) whatever the bookkeeping does:
// logging, metrics, job logs and history are wrapped so that their failures never change a job's
// outcome, and the only write that gates success is the ledger's completed entry.
import { type Job, UnrecoverableError } from 'bullmq';
import type { JobResult } from '../shared/domain/jobs.js';
import { withCallTally } from '../shared/dynamo/instrumentation.js';
import { attemptLogLine } from '../shared/lifecycle/dead-letter.js';
import type { HistoryRecorder } from '../shared/lifecycle/history.js';
import type { Ledger } from '../shared/lifecycle/ledger.js';
import { classifyError } from '../shared/runtime/errors.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { Handlers } from './handlers.js';
import type { WorkerMetrics } from './metrics.js';
import { parseJob } from './payload.js';
import { isContention, putBack, putBackDelayMs } from './put-back.js';

/** Steps of one job the benchmark times (the stores' own calls are timed by wrapping the stores). */
export type JobStep = 'validate' | 'handler' | 'ledger' | 'history';

export interface ProcessorDeps {
  handlers: Handlers;
  ledger: Pick<Ledger, 'recordOutcome'>;
  history: HistoryRecorder;
  logger: Logger;
  metrics?: WorkerMetrics;
  workerId: string;
  /** Per-step timing for `npm run bench`; absent in production, where it costs one check per step. */
  onStep?: (step: JobStep, ms: number) => void;
}

/** Runs bookkeeping that must never decide a job's fate. */
async function quietly(logger: Logger, what: string, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (error) {
    logger.warn({ err: error }, `${what} failed (the job is unaffected)`);
  }
}

/** The delay BullMQ's exponential backoff will use before the next attempt (without jitter). */
function nextDelayMs(job: Job, attempt: number): number | undefined {
  const backoff = job.opts.backoff;
  if (typeof backoff !== 'object' || backoff.type !== 'exponential' || !backoff.delay) return undefined;
  return backoff.delay * 2 ** (attempt - 1);
}

export function makeProcessor(deps: ProcessorDeps) {
  const { handlers, ledger, history, logger, metrics, workerId, onStep } = deps;
  /** Reports the time since `since` as `step` and returns now (only called when onStep is set). */
  const mark = (step: JobStep, since: number): number => {
    const now = performance.now();
    onStep?.(step, now - since);
    return now;
  };

  return async function process(job: Job, token?: string): Promise<JobResult> {
    const jobId = String(job.id);
    const attempt = job.attemptsMade + 1;
    const maxAttempts = job.opts.attempts ?? 1;
    const started = performance.now();
    history.record({ type: 'attempt-started', jobId, op: job.name, attempt, workerId, at: new Date().toISOString() });
    let t = onStep ? mark('history', started) : 0;

    try {
      const { value: result, tally } = await withCallTally(async () => {
        const parsed = parseJob(job.name, job.data);
        if (onStep) t = mark('validate', t);
        const handler = handlers[parsed.name] as (p: unknown, id: string) => Promise<JobResult>;
        return handler(parsed.payload, jobId);
      });
      if (onStep) t = mark('handler', t);
      // Recorded before BullMQ acknowledges: if we die now the job is redelivered and finds its effect.
      await ledger.recordOutcome(jobId, 'completed');
      if (onStep) t = mark('ledger', t);
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      await quietly(logger, 'completion bookkeeping', () => {
        metrics?.job(job.name, 'completed', durationMs);
        const h = onStep ? performance.now() : 0;
        history.record({
          type: 'completed',
          jobId,
          op: job.name,
          attempt,
          workerId,
          at: new Date().toISOString(),
          durationMs,
          capacityUnits: tally.capacityUnits,
          result: summarise(result),
        });
        if (onStep) mark('history', h);
        logger.info(
          {
            jobId,
            op: job.name,
            attempt,
            durationMs,
            capacityUnits: tally.capacityUnits,
            dynamoCalls: tally.calls,
            result,
          },
          `${job.name} completed`,
        );
      });
      return result;
    } catch (error) {
      const durationMs = Math.round((performance.now() - started) * 10) / 10;
      if (token && isContention(error)) {
        // Not a failed attempt: the job goes back to the queue and its attempts stay as they are.
        const delayMs = putBackDelayMs(job.attemptsStarted);
        await quietly(logger, 'put-back bookkeeping', () => {
          metrics?.job(job.name, 'put-back', durationMs);
          logger.debug({ jobId, op: job.name, attempt, delayMs }, `${job.name} contended, put back`);
        });
        return putBack(job, token, delayMs);
      }
      const c = classifyError(error);
      const message = (error as Error)?.message ?? String(error);
      const final = !c.retryable || attempt >= maxAttempts;
      const delay = final ? undefined : nextDelayMs(job, attempt);
      const at = new Date().toISOString();
      await quietly(logger, 'failure bookkeeping', async () => {
        metrics?.job(job.name, final ? 'failed-final' : 'retried', durationMs);
        history.record({
          type: 'attempt-failed',
          jobId,
          op: job.name,
          attempt,
          workerId,
          at,
          errorClass: c.errorClass,
          message,
          retryable: c.retryable,
          ...(delay !== undefined ? { nextDelayMs: delay } : {}),
        });
        const fields = {
          jobId,
          op: job.name,
          attempt,
          maxAttempts,
          durationMs,
          errorClass: c.errorClass,
          kind: c.kind,
          err: message,
        };
        if (final) logger.error(fields, `${job.name} failed for good: ${message}`);
        else logger.warn({ ...fields, nextDelayMs: delay }, `${job.name} attempt ${attempt} failed, will retry`);
        await job.log(attemptLogLine({ attempt, errorClass: c.errorClass, message, retryable: c.retryable, at }));
      });
      if (!c.retryable) throw new UnrecoverableError(`${c.errorClass}: ${message}`);
      throw error;
    }
  };
}

function summarise(result: JobResult): string {
  const { op, ...rest } = result as JobResult & { user?: unknown };
  delete (rest as { user?: unknown }).user;
  return `${op} ${JSON.stringify(rest)}`;
}
