// Tracing off costs nothing: without the OTEL_* variables not one OpenTelemetry module is loaded.
// With them, the AWS SDK instrumentation is in place before the SDK is loaded (it patches modules
// as they are required: one registered too late would silently produce no DynamoDB spans).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function loadedModules(env: Record<string, string>): { otelModules: number; sendWrapped: boolean } {
  const output = execFileSync(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(root, 'test', 'helpers', 'loaded-modules.ts')],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
}

describe('loading OpenTelemetry', () => {
  it('loads nothing of it when no OTEL_* variable asks for traces', () => {
    expect(loadedModules({})).toEqual({ otelModules: 0, sendWrapped: false });
  });

  it("loads nothing of it with compose's empty endpoint or OTEL_SDK_DISABLED", () => {
    expect(loadedModules({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).otelModules).toBe(0);
    expect(
      loadedModules({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_SDK_DISABLED: 'true' }).otelModules,
    ).toBe(0);
  });

  it('with an endpoint set, wraps the AWS SDK before the SDK is loaded', () => {
    // Port 9 (discard): nothing is exported here, the process only loads and exits.
    const result = loadedModules({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(result.otelModules).toBeGreaterThan(0);
    expect(result.sendWrapped).toBe(true);
  });
});
