// Tracing subscribes to the job lifecycle like logs and metrics do: each transition is emitted
// inside the span of the work it ends (an attempt, an enqueue, a dead-letter move, a redrive), and
// this listener writes it onto that span as attributes: job id, operation, attempt, outcome.
import { tracing } from '../telemetry/tracing.js';
import type { JobLifecycle, Transition } from './job-lifecycle.js';

export function traceTransitions(lifecycle: JobLifecycle): () => void {
  return lifecycle.onTransition((t) => decorate(t));
}

function decorate(t: Transition): void {
  const { decorate: set } = tracing();
  switch (t.type) {
    case 'enqueued':
    case 'recovered':
      set({ 'djq.jobs.count': t.jobs.length, 'djq.job.ids': t.jobs.slice(0, MAX_IDS).map((j) => j.id) });
      return;
    case 'attempt-started':
      set({ 'djq.job.id': t.jobId, 'djq.job.op': t.op, 'djq.job.attempt': t.attempt, 'djq.worker': t.actor });
      return;
    case 'attempt-failed':
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
      );
      return;
    case 'completed':
      set({ 'djq.job.outcome': 'completed', 'djq.capacity_units': t.capacityUnits, 'djq.dynamo_calls': t.dynamoCalls });
      return;
    case 'lock-lost':
      set({ 'djq.job.outcome': 'lock-lost', 'djq.lost.reason': t.reason, 'djq.lost.stale': t.stale });
      return;
    case 'settled-completed':
      set({ 'djq.job.outcome': 'settled-completed', 'djq.job.attempts': t.attempts });
      return;
    case 'dead-lettered':
      set({ 'djq.job.outcome': 'dead-lettered', 'djq.job.attempts': t.attempts, 'djq.dead_letter.reason': t.reason });
      return;
    case 'redriven':
    case 'purged':
      set({ 'djq.job.id': t.jobId, 'djq.job.op': t.op, 'djq.job.outcome': t.type, 'djq.actor': t.actor });
      return;
  }
}

/** A tick of thousands of jobs names the first ones only: a span is not a manifest. */
const MAX_IDS = 50;
