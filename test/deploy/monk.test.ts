// The Monk manifests: no offline validator exists, so parse the YAML and check every reference by
// hand (inherits, connections, connection-*(), secret(), group members, wait-for), that the
// values are ones the config schema accepts, and that the table entity matches the code's table.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DEPARTMENT_INDEX, ensureTable } from '../../shared/dynamo/table.js';
import { loadConfig } from '../../shared/runtime/config.js';
import {
  allStrings,
  ancestry,
  asObject,
  EXTERNAL_MONK_TEMPLATES,
  type JsonObject,
  loadMonk,
  MONK_FILES,
  type MonkEntry,
  monkServiceOf,
  resolveRunnable,
} from './support.js';

const VARIABLE_TYPES = new Set(['string', 'int', 'float', 'bool', 'bigint']);

/** Every broken reference in the manifests, as readable lines. */
function referenceProblems(entries: Map<string, MonkEntry>): string[] {
  const problems: string[] = [];
  const exists = (id: string) => entries.has(id);
  for (const entry of entries.values()) {
    const { id, data } = entry;
    if (typeof data.defines !== 'string') {
      problems.push(`${id}: no defines`);
      continue;
    }
    if (data.defines === 'group') {
      const members = data.members;
      if (!Array.isArray(members) || members.length === 0) problems.push(`${id}: a group needs members`);
      for (const member of Array.isArray(members) ? members : []) {
        if (!exists(String(member))) problems.push(`${id}: member ${member} is not defined`);
      }
      continue;
    }
    if (data.defines !== 'runnable') continue;

    const parent = data.inherits;
    if (typeof parent === 'string' && !exists(parent) && !EXTERNAL_MONK_TEMPLATES.has(parent))
      problems.push(`${id}: inherits unknown ${parent}`);
    const runnable = resolveRunnable(entries, id);
    const inheritsExternal = [...ancestry(entries, id)].some((a) => EXTERNAL_MONK_TEMPLATES.has(a));
    const containers = Object.values(asObject(runnable.containers));
    if (!inheritsExternal && (containers.length === 0 || containers.some((c) => !asObject(c).image)))
      problems.push(`${id}: needs containers with an image, or to inherit a template`);

    const connections = asObject(runnable.connections);
    for (const [name, connection] of Object.entries(connections)) {
      const target = asObject(connection).runnable ?? asObject(connection).target;
      if (typeof target !== 'string' || !exists(target))
        problems.push(`${id}: connection ${name} -> unknown ${target}`);
      if (typeof asObject(connection).service !== 'string') problems.push(`${id}: connection ${name} names no service`);
    }
    const permitted = asObject(asObject(runnable.permissions)['permitted-secrets']);
    for (const text of allStrings(runnable)) {
      for (const m of text.matchAll(/connection-[a-z-]+\("([^"]+)"\)/g)) {
        if (!Object.hasOwn(connections, m[1] ?? '')) problems.push(`${id}: ${m[0]} names no connection of ${id}`);
      }
      for (const m of text.matchAll(/secret\("([^"]+)"\)/g)) {
        if (permitted[m[1] ?? ''] !== true) problems.push(`${id}: ${m[0]} is not in permissions.permitted-secrets`);
      }
    }
    for (const waited of (asObject(asObject(runnable.depends)['wait-for']).runnables as string[] | undefined) ?? []) {
      if (!exists(waited)) problems.push(`${id}: waits for unknown ${waited}`);
    }
    for (const [name, variable] of Object.entries(asObject(runnable.variables))) {
      if (!VARIABLE_TYPES.has(String(asObject(variable).type)))
        problems.push(`${id}: variable ${name} has no valid type`);
    }
  }
  return problems;
}

/** Stand-ins for what Monk computes at run time, to check the rest against the schema. */
const EXPRESSION_SAMPLES: [RegExp, string][] = [
  [/connection-hostname\(/, 'redis.djq.monk'],
  [/connection-port\(/, '6379'],
  [/get-member\("table_name"\)/, 'djq-users-table'],
  [/secret\(/, 'from-a-secret'],
];

/** The environment a runnable's container would get. */
function environmentOf(runnable: JsonObject): Record<string, string> {
  const variables = asObject(runnable.variables);
  const values: Record<string, string> = {};
  for (const [name, variable] of Object.entries(variables)) {
    const raw = String(asObject(variable).value ?? '');
    const sample = EXPRESSION_SAMPLES.find(([re]) => re.test(raw));
    values[name] = sample ? sample[1] : raw;
  }
  // Template strings refer to other variables: <- `redis://${redis-host}:${redis-port}`
  for (const [name, value] of Object.entries(values)) {
    const template = value.match(/^<-\s*`(.*)`$/);
    if (template)
      values[name] = (template[1] ?? '').replace(/\$\{([a-z0-9-]+)\}/g, (_, ref: string) => values[ref] ?? '');
  }
  const env: Record<string, string> = {};
  for (const [name, variable] of Object.entries(variables)) {
    const envName = asObject(variable).env;
    if (typeof envName === 'string') env[envName] = values[name] ?? '';
  }
  return env;
}

const entries = loadMonk();
const groups = [...entries.values()].filter((e) => e.data.defines === 'group');

describe('Monk manifests', () => {
  it('parse, each with a namespace, and resolve every reference', () => {
    expect(MONK_FILES.length).toBe(2);
    expect(referenceProblems(entries)).toEqual([]);
  });

  it('are checked for real: a broken reference is reported', () => {
    const broken = new Map(entries);
    const producer = structuredClone(entries.get('djq/producer') as MonkEntry);
    producer.data.variables = {
      ...asObject(producer.data.variables),
      leak: { env: 'X', type: 'string', value: '<- secret("not-permitted") connection-port("nowhere")' },
    };
    producer.data.depends = { 'wait-for': { runnables: ['djq/nothing'], timeout: 10 } };
    broken.set('djq/producer', producer);
    expect(referenceProblems(broken)).toEqual([
      'djq/producer: connection-port("nowhere") names no connection of djq/producer',
      'djq/producer: secret("not-permitted") is not in permissions.permitted-secrets',
      'djq/producer: waits for unknown djq/nothing',
      // Inherited by the table variant's producer too.
      'djq-table/producer: connection-port("nowhere") names no connection of djq-table/producer',
      'djq-table/producer: secret("not-permitted") is not in permissions.permitted-secrets',
    ]);
  });

  it('connect to Redis through the redis/redis template and its redis-svc service', () => {
    expect(entries.get('djq/redis')?.data.inherits).toBe('redis/redis');
    const common = resolveRunnable(entries, 'djq/common');
    expect(asObject(common.connections).redis).toEqual({ runnable: 'djq/redis', service: 'redis-svc' });
  });

  it('run a whole stack from a group: redis, producer, board and several workers', () => {
    expect(groups.map((g) => g.id).sort()).toEqual(['djq-table/stack', 'djq/stack']);
    for (const group of groups) {
      const services = (group.data.members as string[]).map((m) => monkServiceOf(resolveRunnable(entries, m)));
      expect(services.filter((s) => s === 'producer')).toHaveLength(1);
      expect(services.filter((s) => s === 'board')).toHaveLength(1);
      expect(services.filter((s) => s === 'worker').length).toBeGreaterThanOrEqual(2);
      expect(group.data.members).toContain('djq/redis');
    }
  });

  it('give every service runnable values the config schema accepts, and each worker its own id', () => {
    for (const group of groups) {
      const workerIds = new Set<string>();
      for (const member of group.data.members as string[]) {
        const runnable = resolveRunnable(entries, member);
        const service = monkServiceOf(runnable);
        if (!service) continue;
        const env = environmentOf(runnable);
        const config = loadConfig(env);
        expect(config.REDIS_URL).toBe('redis://redis.djq.monk:6379');
        expect(config.AWS_ENDPOINT_URL_DYNAMODB).toBeUndefined();
        expect(env.AWS_ACCESS_KEY_ID).toBe('from-a-secret');
        if (service === 'worker') workerIds.add(config.WORKER_ID ?? '');
        if (service === 'board') {
          // Published beyond loopback, so never without a password.
          expect(config.BOARD_HOST).toBe('0.0.0.0');
          expect(config.BOARD_PASSWORD).toBe('from-a-secret');
          const published = Object.values(asObject(runnable.services)).map((s) => asObject(s).port);
          expect(published).toEqual([config.BOARD_PORT]);
        }
        if (group.id === 'djq-table/stack') {
          expect(config.DYNAMODB_TABLE_NAME).toBe('djq-users-table');
          expect(config.CREATE_TABLES).toBe(false);
        }
      }
      expect(workerIds.size).toBe(
        (group.data.members as string[]).filter((m) => monkServiceOf(resolveRunnable(entries, m)) === 'worker').length,
      );
      expect(workerIds.has('')).toBe(false);
    }
  });

  it('create the same table as shared/dynamo/table.ts, and pass its name through the entity state', async () => {
    // Capture the CreateTable input the code sends, then compare the entity with it.
    let created: JsonObject = {};
    const fake = {
      send: async (command: { constructor: { name: string }; input: unknown }) => {
        if (command.constructor.name === 'CreateTableCommand') {
          created = command.input as JsonObject;
          return {};
        }
        return { Table: { TableStatus: 'ACTIVE', GlobalSecondaryIndexes: [{ IndexStatus: 'ACTIVE' }] } };
      },
    } as unknown as DynamoDBClient;
    await ensureTable(fake, 'djq-users-table');

    const table = entries.get('djq-table/users-table')?.data ?? {};
    expect(table.defines).toBe('aws-dynamo-db/dynamo-db-table');
    expect(table.attribute_definitions).toEqual(created.AttributeDefinitions);
    expect(table.key_schema).toEqual(created.KeySchema);
    expect(table.global_secondary_indexes).toEqual(created.GlobalSecondaryIndexes);
    expect(asObject((table.global_secondary_indexes as JsonObject[])[0]).IndexName).toBe(DEPARTMENT_INDEX);
    expect(table.billing_mode).toBe(created.BillingMode);

    for (const id of ['djq-table/producer', 'djq-table/worker', 'djq-table/board']) {
      const runnable = resolveRunnable(entries, id);
      expect(asObject(runnable.connections).database).toEqual({ runnable: 'djq-table/users-table', service: 'table' });
      expect(asObject(asObject(runnable.variables)['dynamodb-table-name']).value).toBe(
        '<- connection-target("database") entity-state get-member("table_name")',
      );
      expect(asObject(asObject(runnable.depends)['wait-for']).runnables).toContain('djq-table/users-table');
      expect(asObject(asObject(runnable.variables)['aws-region']).value).toBe(table.region);
    }
  });
});
