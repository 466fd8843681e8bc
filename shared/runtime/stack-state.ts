// The state file a running `npm start` leaves in .djq/stack.json, so `djq` finds the stack's
// Redis, DynamoDB endpoint and names without any environment set.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface StackState {
  pid: number;
  startedAt: string;
  env: Record<string, string>;
  boardUrl?: string;
  metricsPorts: Record<string, number>;
}

export const STACK_STATE_FILE = join(process.cwd(), '.djq', 'stack.json');

export function writeStackState(state: StackState, file = STACK_STATE_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

export function removeStackState(file = STACK_STATE_FILE): void {
  rmSync(file, { force: true });
}

function alive(pid: number): boolean {
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
    return alive(state.pid) ? state : undefined;
  } catch {
    return undefined;
  }
}
