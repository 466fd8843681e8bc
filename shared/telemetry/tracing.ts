// What the rest of the code knows of tracing: one small interface, and a no-op when tracing is off.
// Nothing here imports OpenTelemetry; the real implementation (otel-tracing.ts) is loaded by the
// preload only when the OTEL_* variables ask for it, so tracing off costs a function call.
import type { Telemetry } from 'bullmq';

/** Attribute values as OpenTelemetry takes them. */
export type SpanAttributes = Record<string, string | number | boolean | string[] | undefined>;

/** The span a callback runs in (set more attributes, mark an error). */
export interface TraceSpan {
  setAttributes(attributes: SpanAttributes): void;
  /** Links this span to the span a job's propagation metadata names (a redrive to the dead-lettered life). */
  link(metadata: string | undefined): void;
}

export interface SpanOptions {
  attributes?: SpanAttributes;
  /**
   * BullMQ's propagation metadata of a job (`job.opts.telemetry.metadata`): the span becomes a
   * child of the job's trace, whatever context is active (a sweep, a failed-event listener).
   */
  parentMetadata?: string | undefined;
  /** Start a new trace, whatever context is active. */
  root?: boolean;
  kind?: 'internal' | 'producer' | 'consumer';
}

export interface Tracing {
  readonly enabled: boolean;
  /** For BullMQ's `telemetry` option on every Queue and Worker (bullmq-otel); undefined when off. */
  readonly bullmq: Telemetry | undefined;
  /** Runs `fn` inside a span (ended when `fn` settles; a throw marks it failed and is rethrown). */
  span<T>(name: string, options: SpanOptions, fn: (span: TraceSpan) => Promise<T>): Promise<T>;
  /** Sets attributes on the active span, if any (transition listeners decorate the span they run in). */
  decorate(attributes: SpanAttributes, failure?: string): void;
  /** `trace_id` and `span_id` of the active span, for log lines; empty outside a span. */
  logFields(): Record<string, string>;
  /** Exports what is buffered, within `timeoutMs`; called before the process exits. */
  flush(timeoutMs: number): Promise<void>;
}

const noSpan: TraceSpan = { setAttributes: () => undefined, link: () => undefined };

export const noTracing: Tracing = {
  enabled: false,
  bullmq: undefined,
  span: (_name, _options, fn) => fn(noSpan),
  decorate: () => undefined,
  logFields: () => ({}),
  flush: async () => undefined,
};

let current: Tracing = noTracing;

/** This process's tracing: the no-op unless the preload started OpenTelemetry. */
export function tracing(): Tracing {
  return current;
}

/** Called once, by the preload, before anything else is imported. */
export function installTracing(implementation: Tracing): void {
  current = implementation;
}

/**
 * The trace id in a job's propagation metadata (`job.opts.telemetry.metadata`: bullmq-otel writes
 * the W3C carrier as JSON, `{"traceparent":"00-<trace id>-<span id>-<flags>"}`); undefined when the
 * job was added without tracing, or the metadata is not that.
 */
export function traceIdOf(metadata: string | undefined): string | undefined {
  if (!metadata) return undefined;
  try {
    const carrier = JSON.parse(metadata) as { traceparent?: unknown };
    const match = String(carrier.traceparent ?? '').match(/^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/);
    return match?.[1] && !/^0+$/.test(match[1]) ? match[1] : undefined;
  } catch {
    return undefined;
  }
}
