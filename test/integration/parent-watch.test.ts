// A child of `npm start` must not outlive the stack, even when the stack dies while the child is
// still starting up (before it watches its parent).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('../fixtures/late-parent-watch.ts', import.meta.url));

describe('stopWhenParentExits', () => {
  it('stops a child whose parent went away before it started watching', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await once(child, 'message'); // the child is up
    child.disconnect(); // the stack is gone (its end of the IPC channel closed)
    await once(child, 'exit');
    expect(out.trim()).toBe('stopped');
  });
});
