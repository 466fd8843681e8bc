// A process whose stdout is a full pipe nobody reads must still exit when it decides to: the
// async log destination's writes must not hold a thread that process.exit() then waits for.
// Without the fix the child never exits and the deadline below fails the test.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FULL_PIPE_BYTES, UnreadPipe } from '../../chaos/unread-pipe.js';
import { exitWithin } from '../helpers/processes.js';

const root = join(import.meta.dirname, '..', '..');
const EXIT_DEADLINE_MS = 20_000;

/** Logs 4 MB of JSON lines (far past the pipe's 64 KiB), then exits the way every service does. */
const CHILD = `
import { createLogger } from ${JSON.stringify(join(root, 'shared/runtime/logger.ts'))};
import { exitProcess } from ${JSON.stringify(join(root, 'shared/runtime/shutdown.ts'))};
// Blocking, as a piped stdout is under plain node (the images run compiled JS); tsx, which runs
// this child, has already made it non-blocking, which would hide the problem.
process.stdout._handle.setBlocking(true);
const logger = createLogger({ LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, 'unread');
for (let i = 0; i < 10_000; i++) logger.info({ i, pad: 'x'.repeat(400) }, 'a line nobody reads');
setTimeout(() => exitProcess(0), 500);
`;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a stdout nobody reads', () => {
  it('does not keep a process from exiting', { timeout: EXIT_DEADLINE_MS + 10_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'djq-unread-'));
    const pipe = UnreadPipe.open(dir, 'stdout');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
      cwd: root,
      stdio: ['ignore', pipe.writeFd, 'pipe'],
    });
    pipe.closeWriter();
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    try {
      const exit = await exitWithin(child, EXIT_DEADLINE_MS);

      expect(exit, stderr).toBe(0);
      expect(pipe.drain().length).toBeGreaterThanOrEqual(FULL_PIPE_BYTES); // it was full: nobody read it
    } finally {
      child.kill('SIGKILL');
      pipe.close();
    }
  });
});
