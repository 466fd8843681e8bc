// One source of truth for environment variables: every name the config schema reads appears in
// .env.example (with its default and description), in the docs' table (docs/configuration.md), in the Monk manifests
// and in the compose services whose code reads it; none of them names a variable the schema does
// not know. One test that lists every problem, so a renamed variable cannot rot in one file.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_TABLE_DOC, envVariables, renderEnvTable, tableBetweenMarkers } from '../../scripts/env-table.js';
import { CONFIG_KEYS } from '../../shared/runtime/config.js';
import {
  allStrings,
  ancestry,
  asObject,
  EXTERNAL_MONK_TEMPLATES,
  environmentOf,
  interpolatedNames,
  KNOWN_VARIABLES,
  loadCompose,
  loadMonk,
  mergeCompose,
  monkServiceOf,
  OTEL_SDK_VARIABLES,
  ROOT,
  read,
  resolveRunnable,
  SDK_VARIABLES,
  type ServiceName,
  services,
  variablesUsedBy,
} from './support.js';

function envExampleProblems(): string[] {
  const problems: string[] = [];
  const lines = read('.env.example').split('\n');
  const seen = new Map<string, { value: string; comment: string }>();
  lines.forEach((line, i) => {
    const match = line.match(/^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/);
    if (!match) return;
    const [, name = '', value = ''] = match;
    if (seen.has(name)) problems.push(`.env.example: ${name} appears twice`);
    seen.set(name, { value, comment: lines[i - 1] ?? '' });
  });
  for (const variable of envVariables()) {
    const entry = seen.get(variable.name);
    if (!entry) {
      problems.push(`.env.example: ${variable.name} is missing`);
      continue;
    }
    if (entry.value !== (variable.default ?? ''))
      problems.push(
        `.env.example: ${variable.name}=${entry.value}, but the default is ${variable.default ?? '(unset)'}`,
      );
    if (!entry.comment.startsWith('#') || !entry.comment.includes(variable.description))
      problems.push(`.env.example: the line above ${variable.name} should describe it: "${variable.description}"`);
  }
  for (const name of seen.keys()) {
    if (!KNOWN_VARIABLES.has(name)) problems.push(`.env.example: ${name} is not in the config schema`);
  }
  return problems;
}

function readmeProblems(): string[] {
  if (!existsSync(join(ROOT, ENV_TABLE_DOC))) return [`${ENV_TABLE_DOC} is missing`];
  const table = tableBetweenMarkers(read(ENV_TABLE_DOC));
  if (table === undefined) return [`${ENV_TABLE_DOC} has no <!-- env-table:start --> / <!-- env-table:end --> markers`];
  if (table !== renderEnvTable())
    return [`${ENV_TABLE_DOC}: the variables table is out of date: run npx tsx scripts/env-table.ts`];
  return [];
}

/** Every config variable a service reads must reach it; and every name must be known. */
function composeProblems(): string[] {
  const problems: string[] = [];
  const base = loadCompose('docker-compose.yml');
  const aws = loadCompose('docker-compose.aws.yml');
  for (const file of [base, aws]) {
    // Values only: compose does not interpolate comments.
    for (const name of allStrings(file.data).flatMap(interpolatedNames)) {
      if (!KNOWN_VARIABLES.has(name)) problems.push(`${file.path}: \${${name}} is not in the config schema`);
    }
  }
  for (const [label, data] of [
    ['docker-compose.yml', base.data],
    ['docker-compose.yml + docker-compose.aws.yml', mergeCompose(base.data, aws)],
  ] as const) {
    for (const [serviceName, service] of Object.entries(services(data))) {
      const env = environmentOf(service);
      for (const name of Object.keys(env)) {
        if (!KNOWN_VARIABLES.has(name)) problems.push(`${label}: ${serviceName} sets ${name}, unknown to the schema`);
      }
      if (!['producer', 'worker', 'board'].includes(serviceName)) continue;
      for (const name of variablesUsedBy(serviceName as ServiceName)) {
        if (!(name in env)) problems.push(`${label}: ${serviceName} reads ${name} but its environment lacks it`);
      }
    }
  }
  return problems;
}

function monkProblems(): string[] {
  const problems: string[] = [];
  const entries = loadMonk();
  const named = new Set<string>();
  for (const entry of entries.values()) {
    // A runnable built on a hub template (djq/redis) binds that image's variables, not ours.
    if (ancestry(entries, entry.id).some((parent) => EXTERNAL_MONK_TEMPLATES.has(parent))) continue;
    for (const [varName, variable] of Object.entries(asObject(entry.data.variables))) {
      const env = asObject(variable).env;
      if (env === undefined) continue;
      named.add(String(env));
      if (!KNOWN_VARIABLES.has(String(env)))
        problems.push(`${entry.file}: ${entry.id} ${varName} binds unknown ${env}`);
    }
  }
  for (const key of CONFIG_KEYS) {
    if (!named.has(key)) problems.push(`monk/: no variable is bound to ${key}`);
  }
  // Each runnable a group runs carries what its service reads (inherited variables count).
  const members = new Set<string>();
  for (const entry of entries.values()) {
    if (entry.data.defines === 'group') for (const m of entry.data.members as string[]) members.add(m);
  }
  for (const id of members) {
    const runnable = resolveRunnable(entries, id);
    const service = monkServiceOf(runnable);
    if (!service) continue;
    const bound = new Set(Object.values(asObject(runnable.variables)).map((v) => String(asObject(v).env)));
    for (const name of variablesUsedBy(service)) {
      if (!bound.has(name)) problems.push(`monk: ${id} runs the ${service} but binds no variable to ${name}`);
    }
  }
  return problems;
}

/** The OpenTelemetry variables are the SDK's: documented in .env.example and docs/configuration.md, commented out. */
function otelProblems(): string[] {
  const problems: string[] = [];
  const example = read('.env.example');
  const configuration = read(ENV_TABLE_DOC);
  for (const name of OTEL_SDK_VARIABLES) {
    if (!new RegExp(`^#${name}=`, 'm').test(example)) problems.push(`.env.example: no commented-out ${name}=`);
    if (!configuration.includes(`\`${name}\``))
      problems.push(`${ENV_TABLE_DOC}: the Configuration page does not name ${name}`);
  }
  return problems;
}

describe('environment variables', () => {
  it('match the config schema in .env.example, the docs table, docker-compose and the Monk manifests', () => {
    // The allow-list stays exactly the SDKs' own variables: the AWS SDK's credentials and the
    // OpenTelemetry SDK's standard switches (documented, never parsed by shared/config.ts).
    expect([...SDK_VARIABLES]).toEqual([
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      ...OTEL_SDK_VARIABLES,
    ]);
    for (const name of OTEL_SDK_VARIABLES) expect(CONFIG_KEYS).not.toContain(name);
    const problems = [
      ...envExampleProblems(),
      ...readmeProblems(),
      ...composeProblems(),
      ...monkProblems(),
      ...otelProblems(),
    ];
    expect(problems).toEqual([]);
  });
});
