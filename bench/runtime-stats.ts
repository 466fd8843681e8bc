// What the process itself did to a job's latency while a run went: how late the event loop ran
// (perf_hooks' event-loop delay histogram) and the garbage collector's pauses (PerformanceObserver
// 'gc'), and how much of the time its main thread spent waiting for a core (Linux's schedstat), from
// `reset()` to `stop()`.
import { readFileSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { processCpuSeconds } from './proc-cpu.js';
import { round } from './support.js';

export interface RuntimeStats {
  /** How late timers ran: p50, p99 and max in ms (resolution 5 ms: a delay below it reads as ~0). */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  gc: {
    /** Pauses, their sum and the longest, over the window. */
    count: number;
    totalMs: number;
    maxMs: number;
    /** Share of the window's wall time spent in GC pauses. */
    shareOfWall: number;
    /** Pauses of at least 10 ms: the ones that can show in a p99 of tens of ms. */
    over10ms: number;
    byKind: Record<string, { count: number; totalMs: number; maxMs: number }>;
  };
  /** The process's CPU (all threads, user + system) as a share of the window's wall time. */
  cpuShareOfWall?: number;
  /**
   * The main thread (the JavaScript) by the kernel's schedstat (Linux only): its share of the wall
   * time on a core, and its share waiting in a run queue for one. A wait share near or above the run
   * share means every step of a job waits about as long for a core as it runs.
   */
  mainThread?: { runShareOfWall: number; waitShareOfWall: number };
}

/** A main thread's ns on a core and ns runnable but waiting for one, or undefined off Linux. */
function schedstat(pid = process.pid): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ');
    return { runNs: Number(run), waitNs: Number(wait) };
  } catch {
    return undefined;
  }
}

export type ProcessCpu = Pick<RuntimeStats, 'cpuShareOfWall' | 'mainThread'>;

/**
 * CPU and scheduling over a window, of this process or another (its CPU from /proc, 10 ms
 * ticks): start with `cpuSince()`, read it with the returned function.
 */
export function cpuSince(pid = process.pid): (wallMs: number) => ProcessCpu {
  const cpuMs = () => {
    if (pid !== process.pid) return processCpuSeconds(pid) * 1000;
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const cpu0 = cpuMs();
  const sched0 = schedstat(pid);
  return (wallMs) => {
    const sched = schedstat(pid);
    const share = (ns: number) => round(ns / 1e6 / wallMs, 3);
    return {
      cpuShareOfWall: round((cpuMs() - cpu0) / wallMs, 3),
      ...(sched && sched0
        ? {
            mainThread: {
              runShareOfWall: share(sched.runNs - sched0.runNs),
              waitShareOfWall: share(sched.waitNs - sched0.waitNs),
            },
          }
        : {}),
    };
  };
}

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor (scavenge)',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major (mark-compact)',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

const LOOP_RESOLUTION_MS = 5;

export function watchRuntime(): { reset(): void; stop(): RuntimeStats } {
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  let pauses: { kind: string; ms: number }[] = [];
  let since = performance.now();
  let cpu = cpuSince();
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
      pauses.push({ kind: KINDS[kind] ?? `kind ${kind}`, ms: entry.duration });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    reset() {
      loop.reset();
      pauses = [];
      since = performance.now();
      cpu = cpuSince();
    },
    stop() {
      loop.disable();
      observer.disconnect();
      const wallMs = performance.now() - since;
      // The histogram counts the delay past the resolution's own wait, in ns.
      const ms = (ns: number) => round(Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS), 1);
      const byKind: RuntimeStats['gc']['byKind'] = {};
      for (const { kind, ms: pause } of pauses) {
        const k = byKind[kind] ?? { count: 0, totalMs: 0, maxMs: 0 };
        byKind[kind] = k;
        k.count += 1;
        k.totalMs += pause;
        k.maxMs = Math.max(k.maxMs, pause);
      }
      for (const k of Object.values(byKind)) {
        k.totalMs = round(k.totalMs, 1);
        k.maxMs = round(k.maxMs, 1);
      }
      const totalMs = pauses.reduce((sum, p) => sum + p.ms, 0);
      return {
        eventLoopDelayMs: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
        gc: {
          count: pauses.length,
          totalMs: round(totalMs, 1),
          maxMs: round(Math.max(0, ...pauses.map((p) => p.ms)), 1),
          shareOfWall: round(totalMs / wallMs, 4),
          over10ms: pauses.filter((p) => p.ms >= 10).length,
          byKind,
        },
        ...cpu(wallMs),
      };
    },
  };
}
