// A worker stuck in its start-up (the table check against a DynamoDB endpoint that accepts
// connections and never answers) must still stop when its parent goes away: its IPC channel to
// `npm start` closes, and it exits. Without a parent watch from the first line it lives on, orphaned.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { childEnv, exitWithin } from '../helpers/processes.js';
import { testEnv } from '../helpers/stack.js';

const root = join(import.meta.dirname, '..', '..');
const EXIT_DEADLINE_MS = 15_000;
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('a service stuck in its start-up', () => {
  it('exits when its parent goes away', { timeout: EXIT_DEADLINE_MS + 60_000 }, async () => {
    const sockets = new Set<Socket>();
    const stuck = createServer((socket) => {
      sockets.add(socket); // takes the request, never answers
      socket.on('error', () => undefined);
    });
    stuck.listen(0, '127.0.0.1');
    await once(stuck, 'listening');
    const { port } = stuck.address() as { port: number };
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      stuck.close();
    });
    const { env } = testEnv({
      AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${port}`,
      DYNAMODB_REQUEST_TIMEOUT_MS: 600_000,
    });
    const requested = once(stuck, 'connection');
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'worker/main.ts')], {
      cwd: root,
      env: childEnv(env),
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    cleanups.push(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    await requested; // its table check is now waiting on an endpoint that never answers

    child.disconnect(); // as when the stack that started it dies
    const exit = await exitWithin(child, EXIT_DEADLINE_MS);

    expect(exit, stderr).toBe(1);
  });
});
