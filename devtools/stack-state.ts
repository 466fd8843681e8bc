// The write side of the state file a running `npm start` leaves for `djq` (cli/stack-state.ts
// reads it, and owns its shape and path).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { STACK_STATE_FILE, type StackState } from '../cli/stack-state.js';

export function writeStackState(state: StackState, file = STACK_STATE_FILE): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

export function removeStackState(file = STACK_STATE_FILE): void {
  rmSync(file, { force: true });
}
