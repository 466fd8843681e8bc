// The chaos/e2e harness's `exited` (chaos/processes.ts): it waits for the child's pipes to end after
// its exit. A pipe that breaks instead (an 'error' on it) must not be an unhandled rejection (which
// fails the test run, and ends a chaos runner) before the exit comes: `exited` still resolves.
import { describe, expect, it } from 'vitest';
import { startService } from '../helpers/processes.js';

describe("a child's exited", () => {
  it('resolves with the exit code when a pipe broke before the exit', async () => {
    const child = startService('test/fixtures/print-and-exit.ts', {});
    child.process.stdout?.destroy(new Error('the pipe broke'));
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });
});
