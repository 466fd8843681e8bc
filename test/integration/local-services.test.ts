// The local services the stack, tests, chaos and bench start: a redis-server of our own must be
// ours, not another server that already held the port.
import { existsSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../../devtools/local-services.js';

const servers: RedisServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
});

describe('startRedisServer', () => {
  it('fails, clearly, when its port is already taken by another server', async () => {
    const first = await startRedisServer();
    servers.push(first);
    const before = new Set(readdirSync(first.dir, { withFileTypes: true }).map((e) => e.name));

    await expect(startRedisServer({ port: first.port })).rejects.toThrow(
      `redis-server could not start on port ${first.port}: another server already answers there`,
    );
    // The first server is untouched.
    expect(first.process.exitCode).toBeNull();
    expect(new Set(readdirSync(first.dir, { withFileTypes: true }).map((e) => e.name))).toEqual(before);
  });

  it('starts on a free port, in a directory of its own', async () => {
    const server = await startRedisServer();
    servers.push(server);
    expect(existsSync(server.dir)).toBe(true);
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
  });
});
