// A tiny HTTP server for container health checks and Prometheus: /healthz (the process is up),
// /readyz (Redis and DynamoDB answer) and /metrics.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ProbeServerOptions {
  port: number;
  host?: string;
  registry?: Registry;
  /** Each check resolves when its dependency answers and rejects with the reason when not. */
  readiness: Record<string, () => Promise<unknown>>;
  /** Facts /readyz adds under `detail` that do not decide readiness (where the shards live). */
  detail?: () => Record<string, unknown> | undefined;
  /** What to tell the user when the port is taken (which variable to change). */
  portHint?: string;
}

export async function runReadiness(checks: ProbeServerOptions['readiness'], timeoutMs = 2000) {
  const results: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) =>
            setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref(),
          ),
        ]);
        results[name] = 'ok';
      } catch (error) {
        results[name] = (error as Error).message || String(error);
      }
    }),
  );
  return { ready: Object.values(results).every((r) => r === 'ok'), checks: results };
}

export async function startProbeServer(options: ProbeServerOptions): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, JSON.stringify({ error: 'use GET' }));
    if (path === '/healthz') return send(200, JSON.stringify({ status: 'ok' }));
    if (path === '/readyz') {
      void runReadiness(options.readiness).then((r) => {
        const detail = options.detail?.();
        send(r.ready ? 200 : 503, JSON.stringify(detail ? { ...r, detail } : r));
      });
      return;
    }
    if (path === '/metrics' && options.registry) {
      const registry = options.registry;
      void registry.metrics().then(
        (text) => send(200, text, registry.contentType),
        (error: Error) => send(500, JSON.stringify({ error: error.message })),
      );
      return;
    }
    send(404, JSON.stringify({ error: 'not found', try: ['/healthz', '/readyz', '/metrics'] }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${options.port} is in use: ${options.portHint ?? 'choose another port'}`)
          : error,
      ),
    );
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
