// The board's process (board/main.ts) when Redis stops answering (a stopped redis-server, a stalled
// link): every Redis command it sends has a deadline (REDIS_COMMAND_TIMEOUT_MS, shortened here), so
// an operator's request ends with an error instead of holding the page for good. Redis is put behind
// a proxy the test stalls once the board is up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StallingProxy } from '../../chaos/stalling-proxy.js';
import { waitFor } from '../helpers/pipeline.js';
import { isRunning, type Service, startService, stopService } from '../helpers/processes.js';
import { openTestResources, type TestResources, testEnv } from '../helpers/stack.js';

// LOG_LEVEL info: the board's "ready" line names its URL.
const env = testEnv({ BOARD_PORT: 0, LOG_LEVEL: 'info' });
let proxy: StallingProxy;
let board: Service;
let origin: string;
let resources: TestResources;

beforeAll(async () => {
  resources = await openTestResources(env.config); // dynalite and the table the board reads
  proxy = await StallingProxy.start(env.env.REDIS_URL ?? '');
  const { host } = new URL(proxy.endpoint);
  board = startService('board/main.ts', { ...env.env, REDIS_URL: `redis://${host}`, REDIS_COMMAND_TIMEOUT_MS: '500' });
  origin = await waitFor(
    'the board to listen',
    async () => {
      if (!isRunning(board.process)) throw new Error(`the board exited: ${board.output()}`);
      return /"url":"(http:\/\/[^"/]+)/.exec(board.output())?.[1];
    },
    90_000,
  );
}, 120_000);

afterAll(async () => {
  if (board) await stopService(board);
  await proxy?.close();
  await resources?.cleanup();
});

describe('the board when Redis stops answering', () => {
  it('answers a request that needs Redis with an error, at the command deadline', async () => {
    const before = await fetch(`${origin}/api/dlq`);
    expect(before.status).toBe(200);
    proxy.stall();
    // The guard only bounds the test: without the deadline the board never answers, and this aborts.
    const stalled = await fetch(`${origin}/api/dlq`, { signal: AbortSignal.timeout(20_000) });
    expect(stalled.status).toBeGreaterThanOrEqual(500);
    expect(await stalled.text()).toMatch(/timed out/i);
    expect(isRunning(board.process)).toBe(true);
  });
});
