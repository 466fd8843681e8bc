// Imported first by every service's entry point (producer, worker, board), before anything that
// loads the AWS SDK: the AWS SDK instrumentation patches the SDK's modules as they are required, so
// it must be registered before them. When the OTEL_* variables do not ask for traces, nothing of
// OpenTelemetry is loaded. The modules are required synchronously on purpose: ES module imports
// after this one are evaluated only once this module's body has run, which an `await import()`
// here would not guarantee.
import { createRequire } from 'node:module';
import { basename, dirname } from 'node:path';
import type { OtelModules } from './otel-tracing.js';
import { startOtelTracing } from './otel-tracing.js';
import { tracingRequested } from './switch.js';
import { installTracing } from './tracing.js';

// The OTEL_* variables are the OpenTelemetry SDK's, read here only to decide whether to load it.
if (tracingRequested(process.env)) {
  const require = createRequire(import.meta.url);
  const modules: OtelModules = {
    api: require('@opentelemetry/api'),
    sdk: require('@opentelemetry/sdk-node'),
    aws: require('@opentelemetry/instrumentation-aws-sdk'),
    bullmqOtel: require('bullmq-otel'),
  };
  // OTEL_SERVICE_NAME wins (the SDK reads it); else the service is named after its entry point's
  // folder: djq-producer, djq-worker, djq-board.
  const entry = process.argv[1] ? basename(dirname(process.argv[1])) : 'service';
  installTracing(startOtelTracing(modules, process.env.OTEL_SERVICE_NAME ? undefined : `djq-${entry}`));
}
