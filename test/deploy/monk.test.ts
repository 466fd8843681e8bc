// The Monk manifests: no offline validator exists, so parse the YAML and check every reference by
// hand (inherits, connections, connection-*(), secret(), group members, wait-for), every key
// against the keys a runnable and its parts have (a typo such as `depend:` is silently ignored by
// Monk), the table entity against monk-entities' published schema, that the values are ones the
// config schema accepts, and that the table entity matches the code's table.
import { spawnSync } from 'node:child_process';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { DEPARTMENT_INDEX, ensureTable } from '../../shared/dynamo/table.js';
import { loadConfig } from '../../shared/runtime/config.js';
import { DynamoJobHistory } from '../../shared/store/dynamo-job-history.js';
import { startRedisServer } from '../helpers/services.js';
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
  read,
  resolveRunnable,
} from './support.js';

const VARIABLE_TYPES = new Set(['string', 'int', 'float', 'bool', 'bigint']);

/**
 * The keys Monk knows at each level of a runnable (monk-io docs, and every key the runnables of
 * monk-entities use). Monk ignores an unknown key, so `depend:` would drop the wait silently.
 */
const KNOWN_KEYS = {
  runnable: [
    'defines',
    'inherits',
    'metadata',
    'containers',
    'services',
    'connections',
    'variables',
    'depends',
    'files',
    'volumes',
    'checks',
    'actions',
    'affinity',
    'permitted-secrets',
    'permissions',
    'scale',
    'recovery',
    'requires',
  ],
  group: ['defines', 'metadata', 'members', 'runnable-list', 'variables', 'depends', 'services', 'permitted-secrets'],
  container: [
    'image',
    'image-tag',
    'ports',
    'environment',
    'bash',
    'entrypoint',
    'cmd',
    'command',
    'paths',
    'restart',
    'workdir',
    'hooks',
    'files',
    'user',
  ],
  service: ['container', 'port', 'protocol', 'publish', 'host-port', 'description', 'ingress-routes'],
  connection: ['runnable', 'target', 'service', 'entity', 'user'],
  depends: ['wait-for'],
  'wait-for': ['runnables', 'timeout'],
  variable: ['env', 'type', 'value', 'description', 'required'],
} as const;

/** Keys an entity entry may carry besides its schema's (Monk's own, on every definition). */
const MONK_ENTITY_KEYS = new Set([
  'defines',
  'inherits',
  'metadata',
  'permitted-secrets',
  'services',
  'connections',
  'depends',
]);

/**
 * monk-entities' published definition of the table entity (vendored, see the NOTICE): its
 * `schema:` is JSON Schema in YAML, with Monk's `required:` list among the properties.
 */
function entitySchema(): Record<string, unknown> {
  const definition = parseDocument(read('test/deploy/fixtures/monk-dynamo-db-table.yaml')).toJS() as JsonObject;
  const { required, ...properties } = asObject(asObject(definition['dynamo-db-table']).schema);
  return { type: 'object', properties, required, additionalProperties: false };
}
const validateTable = new Ajv({ strict: false, allErrors: true }).compile(entitySchema());

const ENTITY_VALIDATORS: Record<string, (fields: JsonObject) => string[]> = {
  'aws-dynamo-db/dynamo-db-table': (fields) =>
    validateTable(fields)
      ? []
      : (validateTable.errors ?? []).map(
          (e) =>
            `${e.instancePath || '/'} ${e.message}${e.keyword === 'additionalProperties' ? `: ${JSON.stringify(e.params)}` : ''}`,
        ),
};

/** Keys of a map that its level does not have. */
function unknownKeys(where: string, value: unknown, level: keyof typeof KNOWN_KEYS): string[] {
  const known = new Set<string>(KNOWN_KEYS[level]);
  return Object.keys(asObject(value))
    .filter((key) => !known.has(key))
    .map((key) => `${where}: unknown key ${key}`);
}

/** Unknown keys of one entry as written (not as inherited, so each typo is reported once). */
function keyProblems(entry: MonkEntry): string[] {
  const { id, data } = entry;
  if (data.defines === 'group') return unknownKeys(id, data, 'group');
  if (data.defines !== 'runnable') return [];
  const problems = unknownKeys(id, data, 'runnable');
  for (const [name, container] of Object.entries(asObject(data.containers)))
    problems.push(...unknownKeys(`${id} container ${name}`, container, 'container'));
  for (const [name, service] of Object.entries(asObject(data.services)))
    problems.push(...unknownKeys(`${id} service ${name}`, service, 'service'));
  for (const [name, connection] of Object.entries(asObject(data.connections)))
    problems.push(...unknownKeys(`${id} connection ${name}`, connection, 'connection'));
  for (const [name, variable] of Object.entries(asObject(data.variables)))
    problems.push(...unknownKeys(`${id} variable ${name}`, variable, 'variable'));
  if (data.depends !== undefined) {
    problems.push(...unknownKeys(`${id} depends`, data.depends, 'depends'));
    problems.push(...unknownKeys(`${id} depends.wait-for`, asObject(data.depends)['wait-for'], 'wait-for'));
  }
  return problems;
}

/** An entity entry's own fields, checked against the entity's published schema. */
function entityProblems(entry: MonkEntry): string[] {
  const { id, data } = entry;
  const defines = String(data.defines);
  if (['runnable', 'group', 'process-group'].includes(defines)) return [];
  const validate = ENTITY_VALIDATORS[defines];
  if (!validate) return [`${id}: defines ${defines}, which no test knows the schema of`];
  const fields = Object.fromEntries(Object.entries(data).filter(([key]) => !MONK_ENTITY_KEYS.has(key)));
  return validate(fields).map((problem) => `${id}: ${problem}`);
}

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
    // The documented place is the runnable's top level (the nested `permissions:` form alone is
    // what only two examples of monk-entities use).
    const permitted = asObject(runnable['permitted-secrets']);
    for (const text of allStrings(runnable)) {
      for (const m of text.matchAll(/connection-[a-z-]+\("([^"]+)"\)/g)) {
        if (!Object.hasOwn(connections, m[1] ?? '')) problems.push(`${id}: ${m[0]} names no connection of ${id}`);
      }
      for (const m of text.matchAll(/secret\("([^"]+)"\)/g)) {
        if (permitted[m[1] ?? ''] !== true) problems.push(`${id}: ${m[0]} is not in permitted-secrets`);
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
  for (const entry of entries.values()) problems.push(...keyProblems(entry), ...entityProblems(entry));
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
      'djq/producer: secret("not-permitted") is not in permitted-secrets',
      'djq/producer: waits for unknown djq/nothing',
      // Inherited by the table variant's producer too.
      'djq-table/producer: connection-port("nowhere") names no connection of djq-table/producer',
      'djq-table/producer: secret("not-permitted") is not in permitted-secrets',
    ]);
  });

  it('take secrets only from the documented top-level permitted-secrets, not the nested form alone', () => {
    const broken = new Map(entries);
    const common = structuredClone(entries.get('djq/common') as MonkEntry);
    delete common.data['permitted-secrets'];
    broken.set('djq/common', common);
    const problems = referenceProblems(broken);
    expect(problems).toContain('djq/producer: secret("aws-access-key-id") is not in permitted-secrets');
    expect(problems).toContain('djq-table/worker-1: secret("aws-secret-access-key") is not in permitted-secrets');
  });

  it('reject typos and unknown keys in runnables, and entity fields the published schema does not have', () => {
    const broken = new Map(entries);
    const edit = (id: string, change: (data: JsonObject) => void) => {
      const entry = structuredClone(entries.get(id) as MonkEntry);
      change(entry.data);
      broken.set(id, entry);
    };
    edit('djq/producer', (data) => {
      data.depend = { 'wait-for': { runnables: ['djq/redis'] } };
      data.replicas = 2;
    });
    edit('djq/board', (data) => {
      const service = asObject(asObject(data.services).board);
      service.publsh = true;
    });
    edit('djq-table/worker', (data) => {
      asObject(data.depends).wait_for = {};
    });
    edit('djq-table/users-table', (data) => {
      data.billing_mode = 'ON_DEMAND';
      data.ttl_attribute = 'expiresAt';
      delete data.region;
    });
    expect(referenceProblems(broken).sort()).toEqual(
      [
        'djq/producer: unknown key depend',
        'djq/producer: unknown key replicas',
        'djq/board service board: unknown key publsh',
        'djq-table/worker depends: unknown key wait_for',
        "djq-table/users-table: / must have required property 'region'",
        'djq-table/users-table: / must NOT have additional properties: {"additionalProperty":"ttl_attribute"}',
        'djq-table/users-table: /billing_mode must be equal to one of the allowed values',
      ].sort(),
    );
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
          // Published on the node's port too, so http://<node>:3000/admin/queues answers.
          const published = Object.values(asObject(runnable.services)).map((s) => {
            const service = asObject(s);
            return { port: service.port, publish: service.publish, hostPort: service['host-port'] };
          });
          expect(published).toEqual([{ port: config.BOARD_PORT, publish: true, hostPort: config.BOARD_PORT }]);
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

/** The docs that tell a Monk user what to type. */
const MONK_DOCS = ['monk/README.md', 'docs/deployment.md'] as const;

/** The deployment page's "Run on Monk" section. */
function monkSection(readme: string): string {
  const start = readme.indexOf('## Run on Monk');
  const end = readme.indexOf('\n## ', start + 1);
  return start < 0 ? '' : readme.slice(start, end < 0 ? undefined : end);
}

function monkDoc(path: (typeof MONK_DOCS)[number]): string {
  return path === 'docs/deployment.md' ? monkSection(read(path)) : read(path);
}

describe('Monk: what the docs tell a user to do', () => {
  // The hub's redis/redis template runs with CONFIG disabled; emulate that with a real
  // redis-server given the flags the manifest passes, and run the docs' own check against it.
  let server: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  let extraFlags: string[] = [];

  beforeAll(async () => {
    const redis = asObject(entries.get('djq/redis')?.data.variables);
    const flags = Object.values(redis).find((v) => asObject(v).env === 'REDIS_EXTRA_FLAGS');
    extraFlags = String(asObject(flags).value ?? '')
      .split(/\s+/)
      .filter(Boolean);
    server = await startRedisServer({
      extraArgs: ['--maxmemory-policy', 'allkeys-lru', ...extraFlags, '--rename-command', 'CONFIG', ''],
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("set noeviction through the template image's REDIS_EXTRA_FLAGS, and check it with INFO, never CONFIG", () => {
    expect(extraFlags.join(' ')).toContain('--maxmemory-policy noeviction');
    for (const path of MONK_DOCS) {
      const doc = monkDoc(path);
      expect(doc, path).not.toMatch(/CONFIG (GET|SET|REWRITE)/);
      const check = doc.match(/redis-cli (INFO [a-z]+)/);
      expect(check?.[1], `${path} tells how to check the policy with redis-cli INFO`).toBeDefined();
      const out = spawnSync('redis-cli', ['-p', String(server?.port), ...(check?.[1] ?? '').split(' ')], {
        encoding: 'utf8',
      });
      expect(out.error, 'redis-cli must be installed (it comes with redis-server)').toBeUndefined();
      expect(out.stdout).toContain('maxmemory_policy:noeviction');
    }
    // And CONFIG really is off on that server, as on the template's.
    const config = spawnSync('redis-cli', ['-p', String(server?.port), 'CONFIG', 'GET', 'maxmemory-policy'], {
      encoding: 'utf8',
    });
    expect(config.stdout).toMatch(/unknown command/i);
  });

  it("turn on TTL for the history's expiry attribute on each stack's table, which the entity cannot", async () => {
    // The attribute the history store writes its expiry time to (epoch seconds).
    let item: Record<string, unknown> = {};
    const doc = {
      send: async (command: { input: { RequestItems: Record<string, { PutRequest: { Item: JsonObject } }[]> } }) => {
        item = Object.values(command.input.RequestItems)[0]?.[0]?.PutRequest.Item ?? {};
        return {};
      },
    } as unknown as DynamoDBDocumentClient;
    const at = '2026-01-01T00:00:00.000Z';
    await new DynamoJobHistory(doc, 't', 30).write([{ jobId: 'j', at, type: 'enqueued' } as never]);
    const expiry = Object.keys(item).find((k) => item[k] === Date.parse(at) / 1000 + 30 * 86_400);
    expect(expiry).toBeDefined();

    const table = entries.get('djq-table/users-table')?.data ?? {};
    expect(Object.keys(table).some((k) => /ttl|time_to_live/i.test(k))).toBe(false);
    const servicesTable = String(
      asObject(asObject(resolveRunnable(entries, 'djq/common').variables)['dynamodb-table-name']).value ??
        'users-table',
    );
    for (const path of MONK_DOCS) {
      const text = monkDoc(path).replace(/\\\n\s*/g, ' ');
      for (const name of [table.table_name, servicesTable]) {
        expect(text, `${path}: TTL step for ${name}`).toContain(
          `aws dynamodb update-time-to-live --table-name ${name} --time-to-live-specification Enabled=true,AttributeName=${expiry}`,
        );
      }
    }
  });

  it('tell how to build, log in to the registry and push each image the manifests name', () => {
    const images = new Map<string, string>();
    for (const entry of entries.values()) {
      for (const container of Object.values(asObject(entry.data.containers))) {
        const { image, 'image-tag': tag } = asObject(container);
        if (typeof image === 'string') images.set(image, String(tag ?? 'latest'));
      }
    }
    expect([...images.keys()].sort()).toEqual(['ghcr.io/your-org/djq-producer', 'ghcr.io/your-org/djq-worker']);
    for (const path of MONK_DOCS) {
      const text = monkDoc(path);
      const login = text.indexOf('docker login ghcr.io');
      expect(login, `${path}: docker login`).toBeGreaterThan(-1);
      for (const [image, tag] of images) {
        const dockerfile = image.endsWith('-worker') ? 'Dockerfile.worker' : 'Dockerfile.producer';
        const build = text.indexOf(`docker build -f ${dockerfile} -t ${image}:${tag} .`);
        const push = text.indexOf(`docker push ${image}:${tag}`);
        expect(build, `${path}: build ${image}`).toBeGreaterThan(-1);
        expect(push, `${path}: push ${image}`).toBeGreaterThan(Math.max(build, login));
      }
      // The nodes pull too: a private registry needs credentials on the Monk side as well.
      expect(text, path).toMatch(/private/i);
    }
  });
});
