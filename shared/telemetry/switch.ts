// Whether this process exports traces. Decided by the OpenTelemetry SDK's own standard variables
// (OTEL_*), not by our config schema: they belong to the SDK, as AWS_ACCESS_KEY_ID belongs to the
// AWS SDK, and any OTel-aware platform sets them the standard way. Off unless asked for.

/** The variables that decide; everything else OTEL_* is read by the SDK itself once it is on. */
type OtelSwitches = Partial<
  Record<
    'OTEL_SDK_DISABLED' | 'OTEL_TRACES_EXPORTER' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    string
  >
>;

/**
 * On when a trace exporter is named (OTEL_TRACES_EXPORTER other than `none`), or, with none named,
 * when an OTLP endpoint is given (the SDK's default exporter is OTLP). Empty values count as unset,
 * so compose's `${OTEL_EXPORTER_OTLP_ENDPOINT:-}` leaves tracing off. OTEL_SDK_DISABLED=true wins.
 */
export function tracingRequested(env: OtelSwitches): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (exporters.length > 0) return exporters.some((e) => e !== 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}
