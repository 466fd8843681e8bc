// The OpenTelemetry side of tracing: the Node SDK (which reads the standard OTEL_* variables:
// exporter, endpoint, protocol, sampler, service name, resource attributes), the AWS SDK
// instrumentation for one span per DynamoDB call, and bullmq-otel for BullMQ's own spans and the
// trace context carried inside each job. Only type imports here: the preload hands in the modules
// it loaded, so none of this is loaded when tracing is off.
import type * as Api from '@opentelemetry/api';
import type * as AwsInstrumentationModule from '@opentelemetry/instrumentation-aws-sdk';
import type * as SdkNode from '@opentelemetry/sdk-node';
import type * as BullMQOtelModule from 'bullmq-otel';
import type { SpanAttributes, SpanOptions, TraceSpan, Tracing } from './tracing.js';

export interface OtelModules {
  api: typeof Api;
  sdk: typeof SdkNode;
  aws: typeof AwsInstrumentationModule;
  bullmqOtel: typeof BullMQOtelModule;
}

/** Instrumentation scope of the spans our own code makes. */
const TRACER_NAME = 'dynamo-job-queue';

export function startOtelTracing(modules: OtelModules, serviceName: string | undefined): Tracing {
  const { api, bullmqOtel } = modules;
  const nodeSdk = startSdk(modules, serviceName);
  const tracer = api.trace.getTracer(TRACER_NAME);
  const contextOf = contextReader(api);
  let flushed: Promise<void> | undefined;

  return {
    enabled: true,
    bullmq: new bullmqOtel.BullMQOtel({ tracerName: 'bullmq' }),
    span: spanRunner(api, tracer, contextOf),

    decorate(attributes, failure) {
      const span = api.trace.getActiveSpan();
      if (!span) return;
      span.setAttributes(clean(attributes));
      if (failure !== undefined) span.setStatus({ code: api.SpanStatusCode.ERROR, message: failure });
    },

    logFields(): Record<string, string> {
      const context = api.trace.getActiveSpan()?.spanContext();
      // Only sampled spans: a log line should name a trace the backend has.
      if (!context || !(context.traceFlags & api.TraceFlags.SAMPLED)) return {};
      return { trace_id: context.traceId, span_id: context.spanId };
    },

    flush(timeoutMs) {
      // Shutdown exports what the batch processor holds; bounded, because an exit never waits on a collector.
      flushed ??= nodeSdk.shutdown().catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        flushed,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    },
  };
}

function startSdk({ sdk, aws }: OtelModules, serviceName: string | undefined): SdkNode.NodeSDK {
  const nodeSdk = new sdk.NodeSDK({
    ...(serviceName !== undefined ? { serviceName } : {}),
    instrumentations: [new aws.AwsInstrumentation({ suppressInternalInstrumentation: true })],
    // Traces only: metrics stay on each process's Prometheus /metrics, logs on stdout. Without these
    // the SDK would also start OTLP metric and log exporters (its default when their variables are unset).
    metricReaders: [],
    logRecordProcessors: [],
  });
  nodeSdk.start();
  return nodeSdk;
}

/** The trace context a job carries in its metadata, if any. */
function contextReader(api: typeof Api): (metadata: string | undefined) => Api.Context | undefined {
  return (metadata) => {
    if (!metadata) return undefined;
    try {
      return api.propagation.extract(api.ROOT_CONTEXT, JSON.parse(metadata) as Record<string, string>);
    } catch {
      return undefined; // not ours to judge: a job with odd metadata is simply not joined to a trace
    }
  };
}

/** Runs `fn` in a span: under the job's trace when its metadata carries one, else as asked. */
function spanRunner(
  api: typeof Api,
  tracer: Api.Tracer,
  contextOf: (metadata: string | undefined) => Api.Context | undefined,
): Tracing['span'] {
  const kinds = { internal: api.SpanKind.INTERNAL, producer: api.SpanKind.PRODUCER, consumer: api.SpanKind.CONSUMER };
  const wrap = (span: Api.Span): TraceSpan => ({
    setAttributes: (attributes) => span.setAttributes(clean(attributes)),
    link: (metadata) => {
      const linked = contextOf(metadata);
      const context = linked ? api.trace.getSpanContext(linked) : undefined;
      if (context && api.isSpanContextValid(context)) span.addLink({ context });
    },
  });
  return async (name, options: SpanOptions, fn) => {
    const parent = contextOf(options.parentMetadata) ?? (options.root ? api.ROOT_CONTEXT : api.context.active());
    const span = tracer.startSpan(
      name,
      { kind: kinds[options.kind ?? 'internal'], attributes: clean(options.attributes ?? {}) },
      parent,
    );
    try {
      return await api.context.with(api.trace.setSpan(parent, span), () => fn(wrap(span)));
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
      throw error;
    } finally {
      span.end();
    }
  };
}

/** OpenTelemetry drops undefined attribute values with a warning: leave them out instead. */
function clean(attributes: SpanAttributes): Api.Attributes {
  const out: Api.Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}
