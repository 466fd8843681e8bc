// The state file a running `npm start` leaves in .djq/stack.json, so `djq` finds the stack's
// Redis, DynamoDB endpoint and names without any environment set. The read side lives here, in
// product code, because the CLI ships in the images and must not import dev tooling; the stack
// (a dev tool) writes the file through devtools/stack-state.ts, which takes its shape and path from
// this module, so the two cannot drift.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StackState {
  pid: number;
  startedAt: string;
  env: Record<string, string>;
  /** The board's origin (http://host:port): the console is at /console, Bull Board at /admin/queues. */
  boardUrl?: string;
  metricsPorts: Record<string, number>;
}

export const STACK_STATE_FILE = join(process.cwd(), '.djq', 'stack.json');

/** Whether a process of that id runs (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The running stack's state, or undefined when there is none (or it died without cleaning up). */
export function readStackState(file = STACK_STATE_FILE): StackState | undefined {
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as StackState;
    return processAlive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}
