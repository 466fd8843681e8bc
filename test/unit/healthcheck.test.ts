// Which endpoint the images' HEALTHCHECK asks, per role: the board runs from the producer image
// but listens on BOARD_PORT; METRICS_PORT=0 turns the producer's and workers' endpoint off.
import { describe, expect, it } from 'vitest';
import { healthTarget } from '../../cli/healthcheck.js';
import { loadConfig } from '../../shared/runtime/config.js';

const config = (env: Record<string, string> = {}) => loadConfig(env);

describe('healthTarget', () => {
  it.each([
    ['node as PID 1', ['node', 'dist/board/main.js']],
    ['compose init: true', ['/sbin/docker-init', '--', 'node', 'dist/board/main.js']],
    ['an absolute path', ['node', '/app/dist/board/main.js']],
  ])('asks the board on BOARD_PORT (%s)', (_, commandLine) => {
    const target = healthTarget(
      commandLine,
      config({ BOARD_PORT: '3000', BOARD_HOST: '0.0.0.0', METRICS_PORT: '9464' }),
    );
    expect(target).toEqual({ kind: 'probe', url: 'http://127.0.0.1:3000/healthz' });
  });

  it('asks the board where it binds when that is one address', () => {
    expect(
      healthTarget(['node', 'dist/board/main.js'], config({ BOARD_PORT: '4000', BOARD_HOST: '10.0.0.5' })),
    ).toEqual({
      kind: 'probe',
      url: 'http://10.0.0.5:4000/healthz',
    });
  });

  it.each(['dist/producer/main.js', 'dist/worker/main.js'])('asks %s on METRICS_PORT', (entry) => {
    expect(healthTarget(['node', entry], config({ METRICS_PORT: '9500', BOARD_PORT: '3000' }))).toEqual({
      kind: 'probe',
      url: 'http://127.0.0.1:9500/healthz',
    });
  });

  it('has nothing to ask with METRICS_PORT=0, instead of failing a working worker', () => {
    expect(healthTarget(['node', 'dist/worker/main.js'], config({ METRICS_PORT: '0' }))).toEqual({
      kind: 'none',
      reason: 'METRICS_PORT=0 turns /healthz off',
    });
  });
});
