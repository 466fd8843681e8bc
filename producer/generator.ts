// Random operations drawn from the weighted mix, with faker data, aimed at users that exist.
import { randomUUID } from 'node:crypto';
import { faker } from '@faker-js/faker';
import { DEPARTMENTS, type Payloads } from '../shared/domain/jobs.js';
import { type JobName, OPERATION_KEYS, OPERATIONS, type OperationKey } from '../shared/domain/operations.js';
import type { OperationMix } from '../shared/runtime/config.js';

export interface GeneratedJob {
  id: string;
  name: string;
  data: unknown;
}

/**
 * A bounded sample of ids the producer created, so get/update/delete mostly hit real users. Old
 * ids are evicted at random once full, which keeps the sample fresh and memory bounded.
 */
export class RecentIds {
  private readonly ids: string[] = [];
  constructor(
    private readonly capacity = 1000,
    private readonly random: () => number = Math.random,
  ) {}
  get size() {
    return this.ids.length;
  }
  add(id: string) {
    if (this.ids.length < this.capacity) this.ids.push(id);
    else this.ids[Math.floor(this.random() * this.capacity)] = id;
  }
  pick(): string | undefined {
    return this.ids[Math.floor(this.random() * this.ids.length)];
  }
  /** Picks and forgets (for deletes, so later jobs stop aiming at the user). */
  take(): string | undefined {
    if (this.ids.length === 0) return undefined;
    const i = Math.floor(this.random() * this.ids.length);
    const [id] = this.ids.splice(i, 1);
    return id;
  }
}

export interface GeneratorOptions {
  mix: OperationMix;
  batchSize: number;
  invalidRate: number;
  random?: () => number;
  newId?: () => string;
  known?: RecentIds;
}

export function pickWeighted(mix: OperationMix, roll: number): OperationKey {
  const total = OPERATION_KEYS.reduce((sum, k) => sum + mix[k], 0);
  let threshold = roll * total;
  for (const key of OPERATION_KEYS) {
    threshold -= mix[key];
    if (threshold < 0 && mix[key] > 0) return key;
  }
  // Floating-point edge (roll close to 1): the last key with weight.
  return OPERATION_KEYS.filter((k) => mix[k] > 0).at(-1) as OperationKey;
}

export class OperationGenerator {
  private readonly random: () => number;
  private readonly newId: () => string;
  readonly known: RecentIds;

  constructor(private readonly options: GeneratorOptions) {
    this.random = options.random ?? Math.random;
    this.newId = options.newId ?? randomUUID;
    this.known = options.known ?? new RecentIds(1000, this.random);
  }

  next(): GeneratedJob {
    const id = this.newId();
    if (this.options.invalidRate > 0 && this.random() < this.options.invalidRate) return { id, ...this.invalid() };
    let key = pickWeighted(this.options.mix, this.random());
    // Nothing to read or change yet: create instead, so the first jobs do real work.
    if ((key === 'get' || key === 'update' || key === 'delete') && this.known.size === 0) key = 'create';
    return { id, ...this.build(key) };
  }

  private build(key: OperationKey): { name: JobName; data: unknown } {
    const name = OPERATIONS[key];
    const data = this.payload(key);
    return { name, data };
  }

  private payload(key: OperationKey): Payloads[JobName] {
    switch (key) {
      case 'create': {
        const user = this.newUser();
        this.known.add(user.id);
        return { user } satisfies Payloads['create-user'];
      }
      case 'get':
        return { userId: this.known.pick() as string } satisfies Payloads['get-user'];
      case 'update': {
        const changes =
          this.random() < 0.5
            ? { age: faker.number.int({ min: 18, max: 80 }) }
            : { age: faker.number.int({ min: 18, max: 80 }), department: faker.helpers.arrayElement(DEPARTMENTS) };
        return { userId: this.known.pick() as string, changes } satisfies Payloads['update-user'];
      }
      case 'query':
        return {
          department: faker.helpers.arrayElement(DEPARTMENTS),
          limit: 25,
        } satisfies Payloads['query-by-department'];
      case 'delete':
        return { userId: this.known.take() as string } satisfies Payloads['delete-user'];
      case 'batch': {
        const users = Array.from({ length: this.options.batchSize }, () => this.newUser());
        for (const u of users) this.known.add(u.id);
        return { users } satisfies Payloads['batch-create-users'];
      }
    }
  }

  private newUser() {
    const name = faker.person.fullName();
    const user: Payloads['create-user']['user'] = {
      id: this.newId(),
      name,
      email: faker.internet.email({ firstName: name.split(' ')[0] }).toLowerCase(),
      age: faker.number.int({ min: 18, max: 80 }),
    };
    // The seed's department is optional: one user in ten has none.
    if (this.random() >= 0.1) user.department = faker.helpers.arrayElement(DEPARTMENTS);
    return user;
  }

  /** Malformed jobs for the poison path: wrong types, missing fields, an unknown operation. */
  private invalid(): { name: string; data: unknown } {
    const kind = Math.floor(this.random() * 3);
    if (kind === 0) return { name: OPERATIONS.create, data: { user: { id: this.newId(), name: 42, age: 'forty' } } };
    if (kind === 1) return { name: OPERATIONS.update, data: { changes: { age: -5 } } };
    return { name: 'drop-table', data: { table: 'users' } };
  }
}
