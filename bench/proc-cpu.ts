// CPU time of a process, or of its main thread, from Linux's /proc (the bench's platform).
import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (Linux; the bench's platform). */
export function processCpuSeconds(pid: number): number {
  return cpuSecondsOf(`/proc/${pid}/stat`);
}

/** CPU seconds of a process's main thread alone (its JavaScript; not GC helpers or libuv's pool). */
export function mainThreadCpuSeconds(pid: number): number {
  return cpuSecondsOf(`/proc/${pid}/task/${pid}/stat`);
}

function cpuSecondsOf(statFile: string): number {
  // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux the bench runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;
