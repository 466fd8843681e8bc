// docker-compose.yml and its AWS override: valid against the Compose Specification's JSON schema,
// and shaped as the system needs (scalable workers, health-gated start-up, a BullMQ-safe Redis).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort, startRedisServer } from '../../devtools/local-services.js';
import { envVariables } from '../../scripts/env-table.js';
import { loadConfig } from '../../shared/runtime/config.js';
import { waitFor } from '../helpers/pipeline.js';
import {
  asObject,
  type ComposeFile,
  durationMs,
  environmentOf,
  type JsonObject,
  loadCompose,
  mergeCompose,
  ROOT,
  read,
  services,
} from './support.js';

const schema = JSON.parse(read('test/deploy/fixtures/compose-spec.json')) as Record<string, unknown>;
// The schema names its draft by an https URL that Ajv does not register; it is plain draft-07.
delete schema.$schema;
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
const validate = ajv.compile(schema);

function schemaErrors(data: unknown): string[] {
  return validate(data) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

const base = loadCompose('docker-compose.yml');
const aws = loadCompose('docker-compose.aws.yml');
const merged: ComposeFile = { path: 'merged', data: mergeCompose(base.data, aws), overrides: new Set() };

const shutdownDefault = Number(envVariables().find((v) => v.name === 'SHUTDOWN_TIMEOUT_MS')?.default);

/** The value a `${NAME:-default}` would give with NAME unset. */
function unsetValue(value: string | undefined): string | undefined {
  const match = value?.match(/^\$\{[A-Z0-9_]+:?-(.*)\}$/);
  return match ? match[1] : value;
}

function dependencyProblems(data: JsonObject): string[] {
  const all = services(data);
  const problems: string[] = [];
  for (const [name, service] of Object.entries(all)) {
    for (const [dependency, spec] of Object.entries(asObject(service.depends_on))) {
      const target = all[dependency];
      if (!target) problems.push(`${name} depends on unknown service ${dependency}`);
      else if (!target.healthcheck) problems.push(`${name} depends on ${dependency}, which has no healthcheck`);
      if (asObject(spec).condition !== 'service_healthy')
        problems.push(`${name} -> ${dependency}: use condition: service_healthy`);
    }
  }
  return problems;
}

/** The sentinel profile's `sh -c` script (the same for all three: one YAML anchor). */
function sentinelCommand(): string {
  const command = services(base.data)['sentinel-1']?.command as string[];
  expect(command.slice(0, 2)).toEqual(['sh', '-c']);
  return command[2] ?? '';
}

/** Services started without asking for a profile. */
function defaultServices(data: JsonObject): string[] {
  return Object.entries(services(data))
    .filter(([, s]) => !Array.isArray(s.profiles) || s.profiles.length === 0)
    .map(([name]) => name);
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema, and the validator does reject a broken file', () => {
    expect(schemaErrors(base.data)).toEqual([]);
    const broken = structuredClone(base.data);
    asObject(asObject(broken.services).worker).ports = 3000;
    asObject(asObject(broken.services).redis).healthcheck = { test: 42 };
    expect(schemaErrors(broken).length).toBeGreaterThanOrEqual(2);
  });

  it('has the five services, each built from a Dockerfile that exists or from a Redis 7 image', () => {
    const all = services(base.data);
    expect(defaultServices(base.data).sort()).toEqual(['board', 'dynamodb', 'producer', 'redis', 'worker']);
    expect(String(all.redis?.image)).toMatch(/^redis:7/);
    for (const [name, service] of Object.entries(all)) {
      if (!service.build) continue;
      const build = asObject(service.build);
      const dockerfile = join(ROOT, String(build.context), String(build.dockerfile ?? 'Dockerfile'));
      expect(existsSync(dockerfile), `${name}: ${dockerfile}`).toBe(true);
    }
  });

  it('adds Prometheus, Grafana and Jaeger only under the observability profile, which nothing else needs', () => {
    const all = services(base.data);
    const profiled = Object.entries(all).filter(
      ([, service]) => Array.isArray(service.profiles) && service.profiles.includes('observability'),
    );
    expect(profiled.map(([name]) => name).sort()).toEqual(['grafana', 'jaeger', 'prometheus']);
    for (const [name, service] of profiled) {
      expect(service.profiles, name).toEqual(['observability']);
      expect(String(service.image), `${name} pins a version`).toMatch(/:v?\d+\.\d+\.\d+$/);
      // Published on loopback only, like the board: none of these UIs has a login we set up.
      for (const port of (service.ports ?? []) as string[]) expect(port, name).toMatch(/^127\.0\.0\.1:/);
      // Every file or folder it mounts from the repository exists.
      for (const volume of (service.volumes ?? []) as string[]) {
        const source = volume.split(':')[0] ?? '';
        if (source.startsWith('./')) expect(existsSync(join(ROOT, source)), `${name}: ${source}`).toBe(true);
      }
    }
    for (const name of defaultServices(base.data)) {
      for (const dependency of Object.keys(asObject(all[name]?.depends_on)))
        expect(['grafana', 'jaeger', 'prometheus'], `${name} -> ${dependency}`).not.toContain(dependency);
    }
  });

  it('adds a replica and three sentinels watching `redis` only under the sentinel profile', () => {
    const all = services(base.data);
    const profiled = Object.entries(all).filter(
      ([, service]) => Array.isArray(service.profiles) && service.profiles.includes('sentinel'),
    );
    expect(profiled.map(([name]) => name).sort()).toEqual(['redis-replica', 'sentinel-1', 'sentinel-2', 'sentinel-3']);
    for (const [name, service] of profiled) {
      expect(service.profiles, name).toEqual(['sentinel']);
      expect(service.image, name).toBe(all.redis?.image);
    }
    const replica = ((all['redis-replica']?.command ?? []) as string[]).join(' ');
    expect(replica).toMatch(/--replicaof redis 6379 .*--maxmemory-policy noeviction/);
    // The name the services ask for by default (REDIS_SENTINEL_NAME), quorum 2 of 3.
    const master = loadConfig({}).REDIS_SENTINEL_NAME;
    expect(sentinelCommand()).toContain(`'sentinel monitor ${master} redis 6379 2'`);
    for (const name of defaultServices(base.data))
      for (const dependency of Object.keys(asObject(all[name]?.depends_on)))
        expect(dependency, name).not.toMatch(/sentinel|replica/);
  });

  it("the sentinel profile's config is one redis-sentinel really starts with, monitoring the master", async () => {
    // The profile's own command, run here with the compose network's names swapped for loopback
    // ports (no Docker engine is needed): a config redis-sentinel rejects would fail it.
    const master = await startRedisServer();
    const dir = mkdtempSync(join(tmpdir(), 'djq-compose-sentinel-'));
    const port = await freePort();
    const command = sentinelCommand()
      .replace("'port 26379'", `'port ${port}'`)
      .replace(' redis 6379 ', ` 127.0.0.1 ${master.port} `)
      .replaceAll('/tmp/sentinel.conf', join(dir, 'sentinel.conf'));
    const sentinel = spawn('sh', ['-c', command], { stdio: 'ignore' });
    try {
      const name = loadConfig({}).REDIS_SENTINEL_NAME;
      const client = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 200 });
      client.on('error', () => undefined);
      await waitFor(
        'the sentinel to name the master',
        async () => {
          const answer = await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).catch(() => undefined);
          return Array.isArray(answer) && answer[1] === String(master.port);
        },
        15_000,
      );
      client.disconnect();
    } finally {
      sentinel.kill('SIGKILL');
      await master.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      rmSync(master.dir, { recursive: true, force: true });
    }
  });

  it('runs Redis with noeviction (BullMQ) and AOF, with a redis-cli ping health check', () => {
    const redis = services(base.data).redis ?? {};
    const command = (redis.command as string[]).join(' ');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--appendonly yes');
    expect(asObject(redis.healthcheck).test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('uses dynalite from an image of its own, persisted to a volume, never DynamoDB Local', () => {
    const dynamodb = services(base.data).dynamodb ?? {};
    expect(asObject(dynamodb.build).context).toBe('docker/dynamodb');
    expect(dynamodb.volumes).toContain('dynamodb-data:/data');
    expect(read('docker/dynamodb/Dockerfile')).toContain('--path", "/data"');
    expect(JSON.stringify(base.data).toLowerCase()).not.toMatch(/amazon\/dynamodb-local|dynamodblocal/);
  });

  it('lets the worker scale: no container_name, no host ports, no fixed WORKER_ID', () => {
    const worker = services(base.data).worker ?? {};
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(environmentOf(worker).WORKER_ID ?? '').toBe('');
    for (const service of Object.values(services(base.data))) expect(service.deploy).toBeUndefined();
  });

  it('gives every app service a stop grace period longer than any SHUTDOWN_TIMEOUT_MS plus a margin, so scale-down drains jobs', () => {
    // Compose cannot derive the grace period from the variable, and a user may raise the variable
    // in .env: so every value the config schema accepts must leave the margin to flush and close.
    const MARGIN_MS = 10_000;
    const accepts = (ms: number) => {
      try {
        loadConfig({ SHUTDOWN_TIMEOUT_MS: String(ms) });
        return true;
      } catch {
        return false;
      }
    };
    for (const name of ['producer', 'worker', 'board']) {
      const service = services(base.data)[name] ?? {};
      const timeout = Number(unsetValue(environmentOf(service).SHUTDOWN_TIMEOUT_MS) || shutdownDefault);
      expect(timeout, name).toBe(25_000);
      expect(accepts(timeout)).toBe(true);
      const grace = durationMs(String(service.stop_grace_period ?? '10s'));
      expect(grace, name).toBeGreaterThan(timeout + MARGIN_MS);
      expect(accepts(grace - MARGIN_MS), `${name}: SHUTDOWN_TIMEOUT_MS=${grace - MARGIN_MS} would outlast it`).toBe(
        false,
      );
    }
  });

  it('starts services only once what they depend on is healthy', () => {
    expect(dependencyProblems(base.data)).toEqual([]);
    for (const name of ['producer', 'worker', 'board']) {
      expect(Object.keys(asObject(services(base.data)[name]?.depends_on)).sort()).toEqual(['dynamodb', 'redis']);
    }
  });

  it('serves Bull Board on host port 3000 from the producer image, health-checked by the image on BOARD_PORT', () => {
    const all = services(base.data);
    const board = all.board ?? {};
    const env = environmentOf(board);
    expect(board.ports).toEqual(['127.0.0.1:3000:3000']);
    expect(env.BOARD_PORT).toBe('3000');
    expect(env.BOARD_HOST).toBe('0.0.0.0');
    expect(board.command).toEqual(['node', 'dist/board/main.js']);
    expect(board.image).toBe(all.producer?.image);
    // The image's HEALTHCHECK picks the board's port from its command (test/deploy/healthcheck.test.ts);
    // an override here could only repeat it, and must not probe another port.
    const override = JSON.stringify(asObject(board.healthcheck).test ?? []);
    expect(override === '[]' || override.includes('healthcheck.js')).toBe(true);
  });

  it('points the services at the compose Redis and dynalite, with no real credentials', () => {
    for (const name of ['producer', 'worker', 'board']) {
      const env = environmentOf(services(base.data)[name] ?? {});
      expect(env.REDIS_URL).toBe('redis://redis:6379');
      expect(env.AWS_ENDPOINT_URL_DYNAMODB).toBe('http://dynamodb:4567');
      expect(env.AWS_ACCESS_KEY_ID).toBe('local');
    }
  });
});

describe('docker-compose.aws.yml', () => {
  it('is valid against the schema, alone and merged over docker-compose.yml', () => {
    expect(schemaErrors(aws.data)).toEqual([]);
    expect(schemaErrors(merged.data)).toEqual([]);
  });

  it('drops dynalite: no dependency on it, not started by default, no endpoint override', () => {
    expect(aws.overrides).toEqual(
      new Set(['services.producer.depends_on', 'services.worker.depends_on', 'services.board.depends_on']),
    );
    expect(dependencyProblems(merged.data)).toEqual([]);
    expect(defaultServices(merged.data).sort()).toEqual(['board', 'producer', 'redis', 'worker']);
    for (const name of ['producer', 'worker', 'board']) {
      const service = services(merged.data)[name] ?? {};
      expect(Object.keys(asObject(service.depends_on))).toEqual(['redis']);
      const env = environmentOf(service);
      expect(env.AWS_ENDPOINT_URL_DYNAMODB).toBe('');
      // Credentials only from the caller's environment: nothing literal.
      for (const key of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
        expect(env[key]).toBe(`\${${key}:-}`);
      }
      expect(unsetValue(env.CREATE_TABLES)).toBe('false');
      // Everything else is still the base file's.
      expect(env.REDIS_URL).toBe('redis://redis:6379');
    }
  });
});
