// Process trees from /proc: which processes descend from a pid (npm start's children are in their
// own process groups, so a group kill would not find them), and whether each is gone. Linux only.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

interface ProcStat {
  pid: number;
  ppid: number;
  state: string;
  command: string;
}

function stat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    const close = text.lastIndexOf(')');
    const [state, ppid] = text.slice(close + 2).split(' ');
    return { pid, ppid: Number(ppid), state: state ?? '?', command: text.slice(text.indexOf('(') + 1, close) };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** `root` and every process below it now, each with its command line. */
export function processTree(root: number): { pid: number; ppid: number; command: string }[] {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => stat(Number(name)))
    .filter((s): s is ProcStat => s !== undefined && s.state !== 'Z');
  const tree: ProcStat[] = [];
  const wanted = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const s of all) {
      if (!wanted.has(s.pid) && wanted.has(s.ppid)) {
        wanted.add(s.pid);
        grew = true;
      }
    }
  }
  for (const s of all) if (wanted.has(s.pid)) tree.push(s);
  return tree.map((s) => ({ pid: s.pid, ppid: s.ppid, command: cmdline(s.pid) || s.command }));
}

/** Gone: no /proc entry, or a zombie (it has exited; only its parent's wait() is missing). */
export function isGone(pid: number): boolean {
  const s = stat(pid);
  return s === undefined || s.state === 'Z';
}

/**
 * Waits until every pid is gone, or until the deadline; returns those still there. Processes that
 * are not our children give no exit event, so this looks every 50 ms; the deadline decides.
 */
export async function waitGone(pids: readonly number[], deadline: number): Promise<number[]> {
  for (;;) {
    const left = pids.filter((pid) => !isGone(pid));
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(50);
  }
}

/** Where a process that would not exit is stuck: each thread's kernel wait channel (e.g. pipe_write). */
export function waitChannels(pid: number): string {
  try {
    const channels = readdirSync(`/proc/${pid}/task`).map((tid) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8');
      } catch {
        return '?';
      }
    });
    const counts = new Map<string, number>();
    for (const c of channels) counts.set(c, (counts.get(c) ?? 0) + 1);
    return [...counts].map(([c, n]) => `${c}×${n}`).join(' ');
  } catch {
    return 'gone';
  }
}
