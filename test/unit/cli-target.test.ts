// Where djq acts, decided without I/O: flags, then the environment, then a running stack; never
// real AWS unasked.
import { describe, expect, it } from 'vitest';
import type { StackState } from '../../cli/stack-state.js';
import { resolveTarget } from '../../cli/target.js';

const stack: StackState = {
  pid: 4242,
  startedAt: '2026-01-01T00:00:00.000Z',
  env: {
    REDIS_URL: 'redis://127.0.0.1:7000',
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  },
  metricsPorts: {},
};

describe('resolveTarget', () => {
  it.each([
    ['nothing set, no stack', {}],
    ['credentials only, no stack', { AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's' }],
    ['REDIS_URL only, no stack', { REDIS_URL: 'redis://127.0.0.1:6379' }],
  ])('%s: refused, saying what to set', (_case, env) => {
    expect(() => resolveTarget({ ...env }, undefined, { aws: false })).toThrow(/will not unasked/);
  });

  it.each([
    ['--aws', {}, true],
    ['DJQ_TARGET=aws', { DJQ_TARGET: 'aws' }, false],
    ['DJQ_ALLOW_AWS=true', { DJQ_ALLOW_AWS: 'true' }, false],
  ])('%s opts in to AWS, and ignores a running stack', (_case, env, flag) => {
    const target = resolveTarget({ ...env }, stack, { aws: flag });
    expect(target).toMatchObject({ aws: true, source: 'the environment' });
    expect(target.env.REDIS_URL).toBeUndefined();
  });

  it('an endpoint set: the environment, not AWS', () => {
    const env = { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9000' };
    expect(resolveTarget(env, undefined, { aws: false })).toMatchObject({ aws: false, source: 'the environment' });
  });

  it('--aws with an endpoint is a contradiction', () => {
    expect(() => resolveTarget({ AWS_ENDPOINT_URL_DYNAMODB: 'http://x:1' }, undefined, { aws: true })).toThrow(
      /names another endpoint/,
    );
  });

  it("nothing set beside a stack: the stack's settings and credentials", () => {
    const env: NodeJS.ProcessEnv = {};
    const target = resolveTarget(env, stack, { aws: false });
    expect(target).toMatchObject({ aws: false, source: 'the npm start stack (pid 4242)' });
    expect(target.env.REDIS_URL).toBe('redis://127.0.0.1:7000');
    expect(env.AWS_ACCESS_KEY_ID).toBe('local'); // the SDK reads them from process.env itself
  });

  it("an endpoint equal to the stack's: the stack", () => {
    const target = resolveTarget({ AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' }, stack, { aws: false });
    expect(target.source).toBe('the npm start stack (pid 4242)');
  });

  it("an endpoint that differs from the stack's: a conflict, not a mix", () => {
    expect(() => resolveTarget({ AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9000' }, stack, { aws: false })).toThrow(
      /but the running npm start stack \(pid 4242\) uses http:\/\/127\.0\.0\.1:8000/,
    );
  });

  it('REDIS_URL and an endpoint set: the environment wins over the stack', () => {
    const env = { REDIS_URL: 'redis://10.0.0.1:6379', AWS_ENDPOINT_URL_DYNAMODB: 'http://10.0.0.2:8000' };
    expect(resolveTarget(env, stack, { aws: false })).toMatchObject({ source: 'the environment', env });
  });
});
