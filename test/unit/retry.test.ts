// Start-up retries: a throttle or 5xx while a service checks its table must not end the process.
import { describe, expect, it } from 'vitest';
import { injectedServiceError } from '../../shared/dynamo/faults.js';
import { retryTransient } from '../../shared/runtime/retry.js';

function failing(errors: Error[]) {
  let calls = 0;
  const fn = async () => {
    const error = errors[calls++];
    if (error) throw error;
    return 'ready';
  };
  return { fn, calls: () => calls };
}

describe('retryTransient', () => {
  it('runs a start-up step again after throttling and 5xx errors', async () => {
    const step = failing([
      injectedServiceError('ThrottlingException', 400, 'slow down'),
      injectedServiceError('InternalServerError', 500, 'oops'),
    ]);

    const value = await retryTransient(step.fn, 8, 1);

    expect(value).toBe('ready');
    expect(step.calls()).toBe(3);
  });

  it('throws at once what an operator must fix (no table)', async () => {
    const missing = Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
    const step = failing([missing]);

    await expect(retryTransient(step.fn, 8, 1)).rejects.toThrow('Requested resource not found');
    expect(step.calls()).toBe(1);
  });

  it('gives up after the last attempt', async () => {
    const step = failing(Array.from({ length: 5 }, () => injectedServiceError('ThrottlingException', 400, 'busy')));

    await expect(retryTransient(step.fn, 3, 1)).rejects.toThrow('busy');
    expect(step.calls()).toBe(3);
  });
});
