// Every error a job can end with is classified here, in one table: retryable errors go back to
// BullMQ's exponential backoff; the rest are poison and are dead-lettered after one attempt.
import { UnrecoverableError } from 'bullmq';
import {
  JobBarredError,
  UserAlreadyExistsError,
  UserDeletedError,
  UserNotFoundError,
  VersionConflictError,
} from '../store/errors.js';

/** The payload does not match its schema, names no known operation, or is too big. */
export class PoisonPayloadError extends Error {
  override name = 'PoisonPayloadError';
}

export type ErrorKind =
  | 'throttled'
  | 'server'
  | 'network'
  | 'conflict'
  | 'not-found'
  | 'unavailable'
  | 'poison'
  | 'final'
  | 'unknown';

export interface Classification {
  kind: ErrorKind;
  retryable: boolean;
  /** The name shown in logs, history and the DLQ (the SDK exception name where there is one). */
  errorClass: string;
}

/** A set of names written as one line of words. */
const names = (words: string) => new Set(words.split(' '));

/** DynamoDB's throttling error names (the SDK's retry strategy backs off on them too). */
export const THROTTLING_ERRORS = names(
  'ProvisionedThroughputExceededException ThrottlingException RequestLimitExceeded TransactionInProgressException',
);
const SERVER = names('InternalServerError ServiceUnavailable InternalFailure ServiceUnavailableException');
const NETWORK_CODES = names('ECONNREFUSED ECONNRESET ETIMEDOUT EPIPE EAI_AGAIN ENOTFOUND EHOSTUNREACH');
const NETWORK_NAMES = names('TimeoutError NetworkingError RequestTimeout AbortError');
/** DynamoDB rejected the request itself: sending it again cannot succeed. */
const POISON_NAMES = names('ValidationException SerializationException ItemCollectionSizeLimitExceededException');
/** The table or the credentials are not there yet: an operator can fix it while the job backs off. */
const UNAVAILABLE = names('ResourceNotFoundException UnrecognizedClientException AccessDeniedException');

export function classifyError(error: unknown): Classification {
  const err = error instanceof Error ? error : new Error(String(error));
  const name = err.name;
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const code = (err as { code?: string }).code;
  const as = (kind: ErrorKind, retryable: boolean): Classification => ({ kind, retryable, errorClass: name });

  if (err instanceof PoisonPayloadError || POISON_NAMES.has(name)) return as('poison', false);
  // A delivery never fails with JobBarredError (processor.ts ends it as a lost decision, uncounted);
  // any other caller that meets it must not retry it.
  if (err instanceof UserDeletedError || err instanceof UserAlreadyExistsError || err instanceof JobBarredError)
    return as('final', false);
  if (err instanceof UnrecoverableError) return as('final', false);
  if (THROTTLING_ERRORS.has(name)) return as('throttled', true);
  if (err instanceof VersionConflictError) return as('conflict', true);
  if (err instanceof UserNotFoundError) return as('not-found', true);
  if (SERVER.has(name) || (status !== undefined && status >= 500)) return as('server', true);
  if (NETWORK_NAMES.has(name) || (code !== undefined && NETWORK_CODES.has(code))) return as('network', true);
  if (UNAVAILABLE.has(name)) return as('unavailable', true);
  return as('unknown', true);
}
