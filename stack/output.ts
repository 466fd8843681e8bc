// What the stack prints: its own lines, labelled and coloured on a terminal, and its children's,
// which it relays. Never blocks on a reader that stopped reading.
import { fitToWidth } from './fit-width.js';

export const tty = process.stdout.isTTY === true;
export const paint = (code: number, text: string) => (tty ? `\u001b[${code}m${text}\u001b[0m` : text);

// Linux makes writes to a pipe synchronous: with a reader that stopped reading (a dead parent's
// pipe), one write would block the stack, and with it every deadline. Writes are queued instead,
// and lines are dropped while more than MAX_QUEUED_OUTPUT is waiting.
const stdoutHandle = (process.stdout as unknown as { _handle?: { setBlocking?: (b: boolean) => void } })._handle;
if (!tty) stdoutHandle?.setBlocking?.(false);
const MAX_QUEUED_OUTPUT = 16 * 1024 * 1024;

export function write(text: string) {
  if (process.stdout.writableLength < MAX_QUEUED_OUTPUT) process.stdout.write(text);
}

/**
 * Relays one line of a child's output, labelled. Its log lines (stdout) are cut to the terminal's
 * width on a terminal; what it writes to stderr (a crash's stack, a usage error) is kept whole.
 */
export function relay(label: string, line: string, from: 'stdout' | 'stderr') {
  const text = `${label} ${line}`;
  write(`${tty && from === 'stdout' ? fitToWidth(text, process.stdout.columns) : text}\n`);
}

export function say(line: string) {
  write(`${paint(1, '[stack]')} ${line}\n`);
}

/** A usage or configuration error: said on stderr, exit 2 (as the services do). */
export function fail(message: string, code = 2): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(code);
}
