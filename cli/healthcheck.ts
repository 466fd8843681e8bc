// The images' HEALTHCHECK: asks /healthz of the service this container runs. One image serves two
// roles (the board runs from the producer image), and they listen on different ports: the board
// on BOARD_PORT, the producer and workers on METRICS_PORT, which 0 turns off. So the role comes
// from the container's main command line and the port from the same environment the service read.
import { readFileSync } from 'node:fs';
import { type Config, loadConfig } from '../shared/runtime/config.js';

export type HealthTarget = { kind: 'probe'; url: string } | { kind: 'none'; reason: string };

/** Wildcard bind addresses are reached through loopback. */
function probeHost(bind: string): string {
  if (bind === '0.0.0.0' || bind === '::' || bind === '[::]') return '127.0.0.1';
  return bind.includes(':') ? `[${bind}]` : bind;
}

/** What to ask, given the main process's arguments and the service's configuration. */
export function healthTarget(
  commandLine: readonly string[],
  config: Pick<Config, 'BOARD_PORT' | 'BOARD_HOST' | 'METRICS_PORT'>,
): HealthTarget {
  if (commandLine.some((arg) => /(^|\/)board\/main\.js$/.test(arg))) {
    if (config.BOARD_PORT === 0) return { kind: 'none', reason: 'BOARD_PORT=0 picks a random port' };
    return { kind: 'probe', url: `http://${probeHost(config.BOARD_HOST)}:${config.BOARD_PORT}/healthz` };
  }
  // The probe server binds 0.0.0.0 (shared/runtime/probe-server.ts).
  if (config.METRICS_PORT === 0) return { kind: 'none', reason: 'METRICS_PORT=0 turns /healthz off' };
  return { kind: 'probe', url: `http://127.0.0.1:${config.METRICS_PORT}/healthz` };
}

/** A process's arguments from /proc (Linux, as in the images). */
export function commandLineOf(pid: string): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

/**
 * Exit 0 when healthy. PID 1 is the service itself (node as PID 1, or `docker-init -- node …`
 * with compose's `init: true`, whose arguments include the service's); a test passes another pid.
 * With nothing to ask, the container's main process being alive is the whole liveness signal, so
 * the check passes instead of marking a working container unhealthy.
 */
async function main(): Promise<number> {
  const target = healthTarget(commandLineOf(process.argv[2] ?? '1'), loadConfig());
  if (target.kind === 'none') {
    process.stdout.write(`healthy: no endpoint to ask (${target.reason})\n`);
    return 0;
  }
  const signal = AbortSignal.timeout(4000);
  try {
    const response = await fetch(target.url, { signal });
    process.stdout.write(`${target.url}: ${response.status}\n`);
    return response.ok ? 0 : 1;
  } catch (error) {
    process.stdout.write(`${target.url}: ${(error as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1]?.endsWith('healthcheck.js') || process.argv[1]?.endsWith('healthcheck.ts')) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stdout.write(`${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
