// What the Redis server itself counted, read from INFO: commands by name (INFO commandstats, where
// a command a Lua script runs counts under its own name) and the server's CPU (INFO cpu). Sections
// take a reading before and after a window and subtract.
import type { Redis } from 'ioredis';

export interface CommandStat {
  calls: number;
  usec: number;
}

/** The commands of the measurement itself, left out of the counts. */
const OWN = new Set(['info', 'config|resetstat']);

/** INFO commandstats as a map from command name (`xadd`, `config|resetstat`) to its calls and µs. */
export function commandStats(info: string): Map<string, CommandStat> {
  const stats = new Map<string, CommandStat>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    const [, name, calls, usec] = match;
    if (name && !OWN.has(name)) stats.set(name, { calls: Number(calls), usec: Number(usec) });
  }
  return stats;
}

/** Server CPU seconds (user + sys) in an INFO cpu reply. */
export function cpuSeconds(info: string): number {
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

export interface RedisReading {
  commands: Map<string, CommandStat>;
  cpuSeconds: number;
}

export async function readRedisStats(control: Redis): Promise<RedisReading> {
  const [commands, cpu] = await Promise.all([control.info('commandstats'), control.info('cpu')]);
  return { commands: commandStats(commands), cpuSeconds: cpuSeconds(cpu) };
}

/** What happened between two readings, per command name (names with no calls left out). */
export function statsDelta(before: RedisReading, after: RedisReading) {
  const byCommand = new Map<string, CommandStat>();
  for (const [name, s] of after.commands) {
    const b = before.commands.get(name) ?? { calls: 0, usec: 0 };
    if (s.calls > b.calls) byCommand.set(name, { calls: s.calls - b.calls, usec: s.usec - b.usec });
  }
  const sum = (key: keyof CommandStat) => [...byCommand.values()].reduce((total, s) => total + s[key], 0);
  return {
    byCommand,
    calls: sum('calls'),
    /** µs spent executing commands (commandstats usec): the server's work without I/O and idle time. */
    usec: sum('usec'),
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
  };
}
