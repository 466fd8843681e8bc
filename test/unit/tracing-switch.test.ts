// Tracing is off unless the OpenTelemetry SDK's own variables ask for it (table-driven).
import { describe, expect, it } from 'vitest';
import { tracingRequested } from '../../shared/telemetry/switch.js';
import { noTracing } from '../../shared/telemetry/tracing.js';

describe('tracingRequested', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['nothing set', {}, false],
    ['an OTLP endpoint', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }, true],
    ['a traces-only endpoint', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }, true],
    ["compose's empty endpoint", { OTEL_EXPORTER_OTLP_ENDPOINT: '' }, false],
    ['a blank endpoint', { OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, false],
    ['a named exporter, no endpoint (SDK default localhost)', { OTEL_TRACES_EXPORTER: 'otlp' }, true],
    ['the console exporter', { OTEL_TRACES_EXPORTER: 'console' }, true],
    [
      'exporter none beats an endpoint',
      { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' },
      false,
    ],
    ['none among others', { OTEL_TRACES_EXPORTER: 'none, console' }, true],
    [
      'an empty exporter list falls back to the endpoint',
      { OTEL_TRACES_EXPORTER: ' ', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' },
      true,
    ],
    ['the SDK disabled', { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' }, false],
    ['the SDK disabled, any case', { OTEL_SDK_DISABLED: 'TRUE', OTEL_TRACES_EXPORTER: 'otlp' }, false],
    ['OTEL_SDK_DISABLED=false', { OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' }, true],
  ];
  it.each(cases)('%s', (_label, env, expected) => {
    expect(tracingRequested(env)).toBe(expected);
  });
});

describe('tracing off', () => {
  it('runs the callback as it is, gives BullMQ no telemetry and logs no ids', async () => {
    // Arrange
    const work = async () => 42;
    // Act
    const result = await noTracing.span('attempt', { root: true }, work);
    // Assert
    expect(result).toBe(42);
    expect(noTracing.enabled).toBe(false);
    expect(noTracing.bullmq).toBeUndefined();
    expect(noTracing.logFields()).toEqual({});
  });

  it('passes a failure through unchanged', async () => {
    const error = new Error('boom');
    await expect(noTracing.span('attempt', {}, () => Promise.reject(error))).rejects.toBe(error);
  });
});
