// The trace subscriber writes each transition onto the span it is emitted in: here a put-back, which
// ends an attempt without using it, so the span says why and for how long and is not marked failed.
import { afterEach, describe, expect, it } from 'vitest';
import type { Transition } from '../../shared/lifecycle/transition.js';
import { traceTransitions } from '../../shared/lifecycle/transition-trace.js';
import { installTracing, noTracing, type SpanAttributes } from '../../shared/telemetry/tracing.js';

/** A tracing that records what the subscriber sets on the active span. */
function recordingTracing() {
  const decorated: { attributes: SpanAttributes; failure: string | undefined }[] = [];
  installTracing({ ...noTracing, decorate: (attributes, failure) => decorated.push({ attributes, failure }) });
  return decorated;
}

/** A lifecycle reduced to its one subscription, emitting what the test hands it. */
function emitter() {
  let listener: (t: Transition) => void = () => undefined;
  return {
    onTransition(l: (t: Transition) => void) {
      listener = l;
      return () => undefined;
    },
    emit: (t: Transition) => listener(t),
  };
}

afterEach(() => installTracing(noTracing));

describe('traceTransitions', () => {
  it('writes a put-back onto the attempt span: outcome, cause, reason and delay, with an ok status', () => {
    const decorated = recordingTracing();
    const lifecycle = emitter();
    traceTransitions(lifecycle);

    lifecycle.emit({
      type: 'put-back',
      actor: 'w1',
      at: '2026-01-01T00:00:00.000Z',
      jobId: '7',
      op: 'create-user',
      attempt: 1,
      delayMs: 250,
      cause: 'throttled',
      reason: 'DynamoDB throttled',
      capacityUnits: 2,
    });

    expect(decorated).toEqual([
      {
        attributes: {
          'djq.job.outcome': 'put-back',
          'djq.put_back.cause': 'throttled',
          'djq.put_back.reason': 'DynamoDB throttled',
          'djq.put_back.delay_ms': 250,
          'djq.capacity_units': 2,
        },
        failure: undefined,
      },
    ]);
  });
});
