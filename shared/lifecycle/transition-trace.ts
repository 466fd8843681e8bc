// Tracing subscribes to the job lifecycle like logs and metrics do: each transition is emitted
// inside the span of the work it ends (an attempt, an enqueue, a dead-letter move, a redrive), and
// this listener writes it onto that span as attributes: job id, operation, attempt, outcome.
import { type SpanAttributes, type Tracing, tracing } from '../telemetry/tracing.js';
import type { JobLifecycle } from './job-lifecycle.js';
import type { LedgerJob } from './ledger.js';
import { handleTransition, type PerTransition, type TransitionOf } from './transition.js';

export function traceTransitions(lifecycle: Pick<JobLifecycle, 'onTransition'>): () => void {
  return lifecycle.onTransition((t) => handleTransition(TRACE, t, tracing().decorate));
}

type Decorate = Tracing['decorate'];

/** What each kind of transition writes on its span. Exhaustive: a new kind must say what it traces. */
const TRACE: PerTransition<void, [Decorate]> = {
  enqueued: (t, set) => set(jobsAttributes(t.jobs)),
  recovered: (t, set) => set(jobsAttributes(t.jobs)),
  'attempt-started': (t, set) =>
    set({ 'djq.job.id': t.jobId, 'djq.job.op': t.op, 'djq.job.attempt': t.attempt, 'djq.worker': t.actor }),
  'attempt-failed': (t, set) =>
    set(
      {
        'djq.job.outcome': t.final ? 'failed' : 'retried',
        'djq.job.max_attempts': t.maxAttempts,
        'djq.error.class': t.errorClass,
        'djq.error.kind': t.kind,
        'djq.error.retryable': t.retryable,
        'djq.retry.delay_ms': t.nextDelayMs,
      },
      `${t.errorClass}: ${t.message}`,
    ),
  completed: (t, set) =>
    set({ 'djq.job.outcome': 'completed', 'djq.capacity_units': t.capacityUnits, 'djq.dynamo_calls': t.dynamoCalls }),
  // Not a failure: the attempt ends with the job back on the queue and its attempts unspent, so the
  // span says why and for how long, and keeps an ok status.
  'put-back': (t, set) =>
    set({
      'djq.job.outcome': 'put-back',
      'djq.put_back.cause': t.cause,
      'djq.put_back.reason': t.reason,
      'djq.put_back.delay_ms': t.delayMs,
      'djq.capacity_units': t.capacityUnits,
    }),
  'lock-lost': (t, set) =>
    set({ 'djq.job.outcome': 'lock-lost', 'djq.lost.reason': t.reason, 'djq.lost.stale': t.stale }),
  'settled-completed': (t, set) => set({ 'djq.job.outcome': 'settled-completed', 'djq.job.attempts': t.attempts }),
  'dead-lettered': (t, set) =>
    set({ 'djq.job.outcome': 'dead-lettered', 'djq.job.attempts': t.attempts, 'djq.dead_letter.reason': t.reason }),
  redriven: (t, set) => set(operatorAttributes(t)),
  purged: (t, set) => set(operatorAttributes(t)),
};

/** An enqueue's or recovery's span: how many jobs, and the first ones' ids. */
function jobsAttributes(jobs: readonly LedgerJob[]): SpanAttributes {
  return { 'djq.jobs.count': jobs.length, 'djq.job.ids': jobs.slice(0, MAX_IDS).map((j) => j.id) };
}

/** An operator's redrive or purge: which job, and who. */
function operatorAttributes(t: TransitionOf<'redriven' | 'purged'>): SpanAttributes {
  return { 'djq.job.id': t.jobId, 'djq.job.op': t.op, 'djq.job.outcome': t.type, 'djq.actor': t.actor };
}

/** A tick of thousands of jobs names the first ones only: a span is not a manifest. */
const MAX_IDS = 50;
