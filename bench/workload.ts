// The jobs the benchmark runs: the producer's own generator on the default mix, aimed only at users
// whose create finished long ago, so a bench run measures throughput, not UserNotFound retries.
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { type GeneratedJob, OperationGenerator, RecentIds } from '../producer/generator.js';
import { DEPARTMENTS } from '../shared/domain/jobs.js';
import { createDynamoClients, withoutFaults } from '../shared/dynamo/client.js';
import type { Config } from '../shared/runtime/config.js';
import { createDynamoStores } from '../shared/store/index.js';
import type { Stores } from '../shared/store/types.js';
import { UserCommands } from '../worker/user-commands.js';
import { createTable } from './support.js';

/**
 * Ids become pickable only after `lag` newer users were generated: with jobs taken roughly in
 * order, a create that far back has completed before any get/update/delete aims at its user.
 */
class SettledIds extends RecentIds {
  private readonly fresh: string[] = [];
  constructor(private readonly lag: number) {
    super(1000);
  }
  override add(id: string): void {
    this.fresh.push(id);
    if (this.fresh.length > this.lag) super.add(this.fresh.shift() as string);
  }
  /** A user that exists already (seeded): pickable at once. */
  settled(id: string): void {
    super.add(id);
  }
}

export const SEED_USERS = 500;

/** Creates `count` users directly through the write path, so the first jobs have users to read and change. */
/** A run's table, created and seeded with users, by a fault-free client: set-up, not measured. */
export async function seededTable(config: Config): Promise<string[]> {
  await createTable(config);
  const dynamo = createDynamoClients(withoutFaults(config));
  try {
    return await seedUsers(createDynamoStores(dynamo, config));
  } finally {
    dynamo.close();
  }
}

export async function seedUsers(stores: Stores, count = SEED_USERS): Promise<string[]> {
  const commands = new UserCommands({ events: stores.events, users: stores.users });
  const ids = Array.from({ length: count }, () => randomUUID());
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map((id, j) =>
        commands.create(`seed-${id}`, {
          id,
          name: 'Seed User',
          email: 'seed@example.com',
          age: 30 + ((i + j) % 40),
          department: DEPARTMENTS[(i + j) % DEPARTMENTS.length],
        }),
      ),
    );
  }
  return ids;
}

export function benchGenerator(config: Config, seeded: readonly string[] = []): OperationGenerator {
  const known = new SettledIds(500);
  for (const id of seeded) known.settled(id);
  return new OperationGenerator({ mix: config.OPERATION_MIX, batchSize: config.BATCH_SIZE, invalidRate: 0, known });
}

export function generate(generator: OperationGenerator, count: number): GeneratedJob[] {
  return Array.from({ length: count }, () => generator.next());
}

/** Adds jobs the way the producer does (addBulk in chunks, jobId = idempotency key), without the ledger. */
export async function fillQueue(queue: Queue, jobs: readonly GeneratedJob[], options: object): Promise<void> {
  for (let i = 0; i < jobs.length; i += 1000) {
    await queue.addBulk(
      jobs.slice(i, i + 1000).map((job) => ({ name: job.name, data: job.data, opts: { ...options, jobId: job.id } })),
    );
  }
}
