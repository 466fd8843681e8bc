// One typed map from job name to payload schema, imported by the producer, the worker, the CLI and
// the board: a job name typo is a type error, and a payload is validated by the same schema that
// the producer's generator is tested against.
import { z } from 'zod';
import type { JobName } from './operations.js';

export const DEPARTMENTS = ['Engineering', 'Marketing', 'Sales', 'HR', 'Finance', 'Operations'] as const;

/** Producer-chosen ids: UUIDs, so a create is idempotent by id and never collides by chance. */
const userId = z.string().uuid();
const department = z.string().min(1).max(64);

export const newUserSchema = z
  .object({
    id: userId,
    name: z.string().min(1).max(200),
    email: z.string().email().max(254),
    age: z.number().int().min(0).max(150),
    department: department.optional(),
  })
  .strict();

export const payloadSchemas = {
  'create-user': z.object({ user: newUserSchema }).strict(),
  'get-user': z.object({ userId }).strict(),
  'update-user': z
    .object({
      userId,
      changes: z
        .object({ age: z.number().int().min(0).max(150).optional(), department: department.optional() })
        .strict()
        .refine((c) => c.age !== undefined || c.department !== undefined, 'changes needs age or department'),
    })
    .strict(),
  'query-by-department': z.object({ department, limit: z.number().int().min(1).max(100).default(25) }).strict(),
  'delete-user': z.object({ userId }).strict(),
  'batch-create-users': z.object({ users: z.array(newUserSchema).min(1).max(25) }).strict(),
} satisfies Record<JobName, z.ZodType>;

export type NewUser = z.infer<typeof newUserSchema>;
export type Payloads = { [K in JobName]: z.input<(typeof payloadSchemas)[K]> };
export type ParsedPayloads = { [K in JobName]: z.output<(typeof payloadSchemas)[K]> };

/** Payloads bigger than this are poison: DynamoDB items stop at 400 KB and BullMQ keeps data in Redis. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(payloadSchemas, name);
}

/** Result summaries the worker returns (BullMQ stores them as the job's return value). */
export type JobResult =
  | { op: 'create-user'; userId: string; version: number; applied: boolean }
  | { op: 'get-user'; userId: string; found: boolean; user?: Record<string, unknown> }
  | { op: 'update-user'; userId: string; version: number; applied: boolean; conflicts?: number }
  | { op: 'query-by-department'; department: string; count: number }
  | {
      op: 'delete-user';
      userId: string;
      version: number;
      applied: boolean;
      alreadyDeleted?: boolean;
      conflicts?: number;
    }
  | { op: 'batch-create-users'; count: number; applied: number };
