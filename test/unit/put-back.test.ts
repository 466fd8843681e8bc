// Which errors put a job back instead of failing its attempt, and the pause before it runs again.
import { describe, expect, it } from 'vitest';
import { injectedServiceError } from '../../shared/dynamo/faults.js';
import { VersionConflictError } from '../../shared/store/errors.js';
import { putBackCause, putBackDelayMs } from '../../worker/put-back.js';

const throttled = injectedServiceError('ProvisionedThroughputExceededException', 400, 'over capacity');
const serverError = injectedServiceError('InternalServerError', 500, 'boom');

describe('putBackCause', () => {
  it('puts a version conflict back whatever flow control says', () => {
    const conflict = new VersionConflictError('u1', 3);
    expect(putBackCause(conflict, true)).toBe('contended');
    expect(putBackCause(conflict, false)).toBe('contended');
  });

  it('puts a throttled job back only with flow control on', () => {
    expect(putBackCause(throttled, true)).toBe('throttled');
    expect(putBackCause(throttled, false)).toBeUndefined();
  });

  it('leaves every other error to the attempts and backoff', () => {
    expect(putBackCause(serverError, true)).toBeUndefined();
    expect(putBackCause(new Error('anything'), true)).toBeUndefined();
  });
});

describe('putBackDelayMs', () => {
  it('doubles with each start, is capped, and is jittered over [0.5, 1.5)', () => {
    expect(putBackDelayMs(1, () => 0.5)).toBe(25);
    expect(putBackDelayMs(3, () => 0.5)).toBe(100);
    expect(putBackDelayMs(50, () => 0.5)).toBe(2000);
    expect(putBackDelayMs(3, () => 0)).toBe(50);
    expect(putBackDelayMs(3, () => 0.99)).toBe(149);
  });
});
