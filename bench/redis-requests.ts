// Counts what this process sends to Redis, by wrapping ioredis's sendCommand (every client, BullMQ's
// own included, goes through it): requests by name (a Lua script by the name it was defined under,
// e.g. BullMQ's moveToFinished or the ledger's djqRecordCompletedIfOwner), and round trips, where a
// pipeline or a MULTI block counts once. For the bench only; `stop()` puts ioredis back as it was.
import { Redis } from 'ioredis';

interface SentCommand {
  name: string;
  args: unknown[];
}

type SendCommand = (this: Redis, command: SentCommand, stream?: { isPipeline?: boolean }) => unknown;

export interface RequestCount {
  requests: number;
  roundTrips: number;
  byName: Map<string, number>;
}

/** Starts counting every command sent from this process; call `stop` to end and read the count. */
export function countRedisRequests(): { count: RequestCount; stop(): RequestCount } {
  const count: RequestCount = { requests: 0, roundTrips: 0, byName: new Map() };
  const pipelines = new WeakSet<object>();
  const prototype = Redis.prototype as unknown as { sendCommand: SendCommand };
  const original = prototype.sendCommand;
  prototype.sendCommand = function (this: Redis, command, stream) {
    const name = scriptName(this, command) ?? command.name;
    count.requests += 1;
    count.byName.set(name, (count.byName.get(name) ?? 0) + 1);
    // Commands queued in one pipeline (and so a MULTI…EXEC) share the stream object they are written to.
    if (!stream?.isPipeline) count.roundTrips += 1;
    else if (!pipelines.has(stream)) {
      pipelines.add(stream);
      count.roundTrips += 1;
    }
    return original.call(this, command, stream);
  };
  return {
    count,
    stop() {
      prototype.sendCommand = original;
      return count;
    },
  };
}

/** The defined name of the script an EVALSHA runs, without BullMQ's `:version` suffix. */
function scriptName(client: Redis, command: SentCommand): string | undefined {
  if (command.name !== 'evalsha' && command.name !== 'eval') return undefined;
  const scripts = (client as unknown as { scriptsSet?: Record<string, { sha: string; lua: string }> }).scriptsSet ?? {};
  const first = command.args[0];
  for (const [name, script] of Object.entries(scripts)) {
    if (script.sha === first || script.lua === first) return name.split(':')[0];
  }
  return `${command.name} (unnamed script)`;
}
