import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { injectedServiceError } from '../../shared/dynamo/faults.js';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { loadConfig } from '../../shared/runtime/config.js';
import { classifyError, PoisonPayloadError } from '../../shared/runtime/errors.js';
import {
  UserAlreadyExistsError,
  UserDeletedError,
  UserNotFoundError,
  VersionConflictError,
} from '../../shared/store/errors.js';

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...extra });

describe('classifyError', () => {
  it.each([
    [named('ProvisionedThroughputExceededException'), 'throttled', true],
    [named('ThrottlingException'), 'throttled', true],
    [named('RequestLimitExceeded'), 'throttled', true],
    [injectedServiceError('ThrottlingException', 400, 'x'), 'throttled', true],
    [injectedServiceError('InternalServerError', 500, 'x'), 'server', true],
    [named('Whatever', { $metadata: { httpStatusCode: 503 } }), 'server', true],
    [named('Error', { code: 'ECONNREFUSED' }), 'network', true],
    [named('TimeoutError'), 'network', true],
    [new VersionConflictError('u', 2), 'conflict', true],
    [new UserNotFoundError('u'), 'not-found', true],
    [named('ResourceNotFoundException'), 'unavailable', true],
    [named('ValidationException'), 'poison', false],
    [new PoisonPayloadError('bad'), 'poison', false],
    [new UserDeletedError('u'), 'final', false],
    [new UserAlreadyExistsError('u', 'j'), 'final', false],
    [new UnrecoverableError('stop'), 'final', false],
    [new Error('surprise'), 'unknown', true],
    ['a string', 'unknown', true],
  ])('%s → %s (retryable %s)', (error, kind, retryable) => {
    expect(classifyError(error)).toMatchObject({ kind, retryable });
  });
});

describe('job options', () => {
  it('retry with exponential backoff and jitter, and keep Redis bounded', () => {
    const opts = operationJobOptions(loadConfig({ JOB_ATTEMPTS: '7', JOB_BACKOFF_MS: '250' }));
    expect(opts.attempts).toBe(7);
    expect(opts.backoff).toEqual({ type: 'exponential', delay: 250, jitter: 0.5 });
    expect(opts.removeOnComplete).toEqual({ age: 3600, count: 1000 });
    expect(opts.removeOnFail).toBe(false); // the DLQ mover removes them, never BullMQ
  });
});
