// Turns a job's raw name and data into a typed payload, or a PoisonPayloadError that says why not.

import { PoisonPayloadError } from '../runtime/errors.js';
import { isJobName, MAX_PAYLOAD_BYTES, type ParsedPayloads, payloadSchemas } from './jobs.js';
import { JOB_NAMES, type JobName } from './operations.js';

export type ParsedJob = { [K in JobName]: { name: K; payload: ParsedPayloads[K] } }[JobName];

export function parseJob(name: string, data: unknown): ParsedJob {
  if (!isJobName(name)) {
    throw new PoisonPayloadError(`unknown operation "${name}" (known: ${JOB_NAMES.join(', ')})`);
  }
  const size = Buffer.byteLength(JSON.stringify(data ?? null));
  if (size > MAX_PAYLOAD_BYTES) {
    throw new PoisonPayloadError(`payload is ${size} bytes, over the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
  const parsed = payloadSchemas[name].safeParse(data);
  if (!parsed.success) {
    const why = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
      .join('; ');
    throw new PoisonPayloadError(`invalid ${name} payload: ${why}`);
  }
  return { name, payload: parsed.data } as ParsedJob;
}

/** The users a write job touches (for settling a job whose effect landed before it failed). */
export function writeTargets({ name, payload }: ParsedJob): string[] {
  switch (name) {
    case 'create-user':
      return [(payload as ParsedPayloads['create-user']).user.id];
    case 'update-user':
    case 'delete-user':
      return [(payload as ParsedPayloads['delete-user']).userId];
    case 'batch-create-users':
      return (payload as ParsedPayloads['batch-create-users']).users.map((u) => u.id);
    default:
      return [];
  }
}

/** The users a job in the queue may still change, or none if its payload is not valid. */
export function pendingTargets(name: string, data: unknown): string[] {
  try {
    return writeTargets(parseJob(name, data));
  } catch {
    return [];
  }
}

/**
 * The user a job is about, for routing it to a shard (so one user's jobs stay in order on one
 * shard): the first user it writes, or the user it reads; undefined for a job about no one user (a
 * query by department) or with an invalid payload.
 */
export function routingUser(name: string, data: unknown): string | undefined {
  let parsed: ParsedJob;
  try {
    parsed = parseJob(name, data);
  } catch {
    return undefined;
  }
  if (parsed.name === 'get-user') return parsed.payload.userId;
  return writeTargets(parsed)[0];
}
