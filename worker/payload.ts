// Turns a job's raw name and data into a typed payload, or a PoisonPayloadError that says why not.

import { isJobName, MAX_PAYLOAD_BYTES, type ParsedPayloads, payloadSchemas } from '../shared/domain/jobs.js';
import { JOB_NAMES, type JobName } from '../shared/domain/operations.js';
import { PoisonPayloadError } from '../shared/runtime/errors.js';

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
