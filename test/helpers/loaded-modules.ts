// Run as a child process by test/integration/tracing-load.test.ts: loads what a worker loads, in a
// worker's order (the preload first), then prints which OpenTelemetry modules got loaded and
// whether the AWS SDK's send is wrapped by the instrumentation.
import '../../shared/telemetry/preload.js';
import '../../worker/worker-service.js';
import '../../shared/dynamo/client.js';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const loaded = Object.keys(require.cache).filter((path) => /@opentelemetry|bullmq-otel/.test(path));
const { Client } = require('@smithy/core/client') as { Client: { prototype: { send: { __wrapped?: boolean } } } };
console.log(JSON.stringify({ otelModules: loaded.length, sendWrapped: Client.prototype.send.__wrapped === true }));
