// A pipe that nobody reads: a named pipe whose read end this process holds open and never reads,
// handed to a child as its stdout and stderr. Once the child has written the pipe's capacity
// (64 KiB on Linux), each further write blocks or fails with EAGAIN, as with a log collector that
// hangs or a parent that stopped reading.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Linux's default pipe capacity. */
export const PIPE_CAPACITY = 64 * 1024;
/**
 * Unread bytes that show a writer found the pipe full: the kernel fills it a page at a time, so
 * writes stop fitting somewhat short of the capacity (about 60 KiB for log lines).
 */
export const FULL_PIPE_BYTES = 48 * 1024;

export class UnreadPipe {
  private constructor(
    private readonly readFd: number,
    /** Give this to spawn's stdio; close it in this process once the child has it (closeWriter). */
    readonly writeFd: number,
  ) {}

  /** Makes the FIFO in `dir`, opens its read end (never read) and then its write end. */
  static open(dir: string, name: string): UnreadPipe {
    const path = join(dir, name);
    execFileSync('mkfifo', [path]);
    // Non-blocking, so opening without a writer returns at once; then the writer's open finds a reader.
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeFd = openSync(path, constants.O_WRONLY);
    return new UnreadPipe(readFd, writeFd);
  }

  /**
   * Fills most of the pipe before the child gets it, so the child meets a full pipe after its first
   * few lines whatever the machine's speed (how much it logs before the signal varies with load).
   */
  prefill(bytes = FULL_PIPE_BYTES): void {
    const line = `${'-'.repeat(79)}\n`;
    writeSync(this.writeFd, line.repeat(Math.ceil(bytes / line.length)));
  }

  closeWriter(): void {
    closeSync(this.writeFd);
  }

  /** At the end: the bytes left unread (FULL_PIPE_BYTES or more: writers found it full). */
  drain(): Buffer {
    const chunks: Buffer[] = [];
    for (;;) {
      const buffer = Buffer.alloc(PIPE_CAPACITY);
      try {
        const n = readSync(this.readFd, buffer, 0, buffer.length, null);
        if (n === 0) break;
        chunks.push(buffer.subarray(0, n));
      } catch {
        break; // EAGAIN: empty, with a writer still open somewhere
      }
    }
    return Buffer.concat(chunks);
  }

  close(): void {
    closeSync(this.readFd);
  }
}
