// Where djq acts, resolved in one stated order: flags, then the environment, then a running
// `npm start` stack. It never falls through to real AWS: that takes --aws (or DJQ_TARGET=aws).
import { ConfigError } from '../shared/runtime/config.js';
import type { StackState } from './stack-state.js';

export interface TargetRequest {
  /** --aws: acting on real AWS (the default credential chain) is what the operator asked for. */
  aws: boolean;
}

export interface Target {
  /** The variables the configuration is loaded from. */
  env: NodeJS.ProcessEnv;
  /** Where the settings come from, for messages: "the environment" or the stack and its pid. */
  source: string;
  /** True when DynamoDB is real AWS (no endpoint override): allowed only when asked for. */
  aws: boolean;
}

const set = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/** DJQ_TARGET=aws or DJQ_ALLOW_AWS=true: the environment's way of saying --aws. */
export function awsRequestedByEnv(env: NodeJS.ProcessEnv): boolean {
  return env.DJQ_TARGET?.trim().toLowerCase() === 'aws' || /^(true|1|yes)$/i.test(env.DJQ_ALLOW_AWS?.trim() ?? '');
}

/**
 * The environment djq loads its configuration from. Throws a ConfigError (exit 2) that says what to
 * set when the result would be real AWS unasked, or when the environment and a running stack
 * name two different DynamoDB endpoints.
 */
export function resolveTarget(env: NodeJS.ProcessEnv, stack: StackState | undefined, request: TargetRequest): Target {
  const awsAsked = request.aws || awsRequestedByEnv(env);
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB;
  if (awsAsked && set(endpoint)) {
    throw new ConfigError(
      `djq: --aws (or DJQ_TARGET=aws) asks for real AWS, but AWS_ENDPOINT_URL_DYNAMODB=${endpoint} names another endpoint: unset one of them.`,
    );
  }
  // REDIS_URL set, or AWS asked for: the environment alone says where to act.
  const useStack = stack !== undefined && !set(env.REDIS_URL) && !awsAsked;
  if (useStack) {
    const stackEndpoint = stack.env.AWS_ENDPOINT_URL_DYNAMODB;
    if (set(endpoint) && endpoint.trim() !== stackEndpoint) {
      throw new ConfigError(
        `djq: AWS_ENDPOINT_URL_DYNAMODB=${endpoint} but the running npm start stack (pid ${stack.pid}) uses ${stackEndpoint ?? 'no endpoint'}.\n` +
          `Unset AWS_ENDPOINT_URL_DYNAMODB to act on the stack, or set REDIS_URL as well to act on the system at ${endpoint} instead.`,
      );
    }
    // The SDK reads credentials from process.env itself: hand it the stack's (dummy, local) ones.
    for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] as const) {
      const value = stack.env[key];
      if (value !== undefined) env[key] ??= value;
    }
    return { env: { ...env, ...stack.env }, source: `the npm start stack (pid ${stack.pid})`, aws: false };
  }
  if (!set(endpoint) && !awsAsked) {
    throw new ConfigError(
      [
        'djq: no DynamoDB endpoint is set and no npm start stack is running here, so djq would act on real AWS; it will not unasked.',
        '  Local:  start the stack (npm start) in this directory, or set AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 (and REDIS_URL).',
        '  AWS:    add --aws (or set DJQ_TARGET=aws) to act on the table in AWS with your default credentials.',
      ].join('\n'),
    );
  }
  return { env, source: 'the environment', aws: !set(endpoint) };
}
