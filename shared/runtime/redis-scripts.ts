// Every Redis Lua script of the project lives in a .lua file beside the code that calls it, with a
// header saying its keys, arguments and the invariant it keeps. Each is read once per process and
// defined once per connection through ioredis's defineCommand, so every call goes by EVALSHA
// (the script's text crosses the network once, when Redis does not know it yet).
import { readFileSync } from 'node:fs';
import type { RedisConnection } from './redis.js';

export interface LuaScript {
  /** The command's name on the connection (`redis.<name>(...keys, ...args)`). */
  name: string;
  numberOfKeys: number;
  lua: string;
}

/** Reads a script file; `file` is a URL beside the caller (`new URL('./x.lua', import.meta.url)`). */
export function luaScript(name: string, numberOfKeys: number, file: URL): LuaScript {
  return { name, numberOfKeys, lua: readFileSync(file, 'utf8') };
}

/** The connection with the scripts defined on it (once: a second call finds them there). */
export function withLuaScripts<T extends RedisConnection>(redis: RedisConnection, ...scripts: LuaScript[]): T {
  const commands = redis as unknown as Record<string, unknown>;
  for (const { name, numberOfKeys, lua } of scripts)
    if (typeof commands[name] !== 'function') redis.defineCommand(name, { numberOfKeys, lua });
  return redis as T;
}
