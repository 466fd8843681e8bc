// The Dockerfiles, parsed with dockerfile-ast (no Docker engine here): multi-stage builds, a
// non-root runtime, health checks, reproducible installs, COPY sources that exist, and a build
// context (.dockerignore) that lets in what tsc needs and keeps secrets and junk out.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Dockerfile, DockerfileParser, type Instruction, ModifiableInstruction } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '../../shared/runtime/config.js';
import { dockerignoreExcludes, dockerignorePatterns, ROOT, read, repoFiles, tsconfigIncludes } from './support.js';

interface Image {
  path: string;
  context: string;
  entry?: string;
}

const IMAGES: Image[] = [
  { path: 'Dockerfile.producer', context: '.', entry: 'dist/producer/main.js' },
  { path: 'Dockerfile.worker', context: '.', entry: 'dist/worker/main.js' },
  { path: 'docker/dynamodb/Dockerfile', context: 'docker/dynamodb' },
];

// The images run the Node of .nvmrc (the one CI tests on), on a slim official image; a digest may
// follow the tag to pin it (`node:24-bookworm-slim@sha256:<64 hex>`).
const NODE_MAJOR = read('.nvmrc').trim();
const NODE_BASE = new RegExp(`^node:${NODE_MAJOR}-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$`);

function parse(path: string): Dockerfile {
  return DockerfileParser.parse(read(path));
}

function line(instruction: Instruction): number {
  return instruction.getRange().start.line;
}

/** Instructions of the last stage: what the image that runs is made of. */
function lastStage(dockerfile: Dockerfile): Instruction[] {
  const froms = dockerfile.getFROMs();
  const start = line(froms[froms.length - 1] as Instruction);
  return dockerfile.getInstructions().filter((i) => line(i) >= start);
}

function args(instruction: Instruction): string[] {
  return instruction.getArguments().map((a) => a.getValue());
}

/** --from=build and the like, as written. */
function flags(instruction: Instruction): string[] {
  return instruction instanceof ModifiableInstruction
    ? instruction.getFlags().map((f) => `--${f.getName()}=${f.getValue()}`)
    : [];
}

function text(instruction: Instruction): string {
  return instruction.getArgumentsContent() ?? '';
}

/** Every problem of one Dockerfile, so the negative control below can show the checks bite. */
function problems(path: string, context: string, dockerfile: Dockerfile): string[] {
  const out: string[] = [];
  const instructions = dockerfile.getInstructions();
  for (const from of dockerfile.getFROMs()) {
    if (!NODE_BASE.test(from.getImage() ?? '')) out.push(`${path}: base ${from.getImage()}`);
  }
  const stage = lastStage(dockerfile);
  const users = stage.filter((i) => i.getKeyword() === 'USER').map((i) => args(i)[0] ?? '');
  const user = users[users.length - 1];
  if (!user || user === 'root' || user === '0' || user.startsWith('0:')) out.push(`${path}: last stage runs as root`);
  if (dockerfile.getHEALTHCHECKs().length !== 1) out.push(`${path}: needs one HEALTHCHECK`);
  for (const instruction of instructions) {
    const keyword = instruction.getKeyword();
    const content = text(instruction);
    if (keyword === 'ADD' && /https?:\/\/|git@/.test(content)) out.push(`${path}: ADD of a remote URL`);
    if (keyword === 'RUN' && /\bnpm (install|i|add)\b/.test(content))
      out.push(`${path}: npm install instead of npm ci`);
    if ((keyword === 'ENV' || keyword === 'ARG') && /(SECRET|PASSWORD|TOKEN|ACCESS_KEY)/i.test(content))
      out.push(`${path}: ${keyword} bakes in a secret: ${content}`);
    if (keyword === 'COPY' || keyword === 'ADD') {
      const isFromStage = flags(instruction).some((f) => f.startsWith('--from='));
      const sources = args(instruction).slice(0, -1);
      if (!isFromStage) {
        for (const source of sources.filter((s) => !/^(https?:|git@)/.test(s))) {
          if (!existsSync(join(ROOT, context, source))) out.push(`${path}: COPY source ${source} does not exist`);
        }
      }
    }
  }
  if (!instructions.some((i) => i.getKeyword() === 'RUN' && /\bnpm ci\b/.test(text(i))))
    out.push(`${path}: installs nothing with npm ci`);
  return out;
}

describe('Dockerfiles', () => {
  it.each(IMAGES)('$path parses and passes every check', ({ path, context }) => {
    const dockerfile = parse(path);
    expect(dockerfile.getInstructions().length).toBeGreaterThan(5);
    expect(problems(path, context, dockerfile)).toEqual([]);
  });

  it('report what is wrong in a broken Dockerfile', () => {
    const broken = DockerfileParser.parse(
      [
        'FROM node:18',
        'ENV AWS_SECRET_ACCESS_KEY=abc',
        'ADD https://example.com/x.tgz /x',
        'COPY missing-file ./',
        'RUN npm install',
        'CMD ["node", "x.js"]',
      ].join('\n'),
    );
    expect(problems('broken', '.', broken)).toEqual([
      'broken: base node:18',
      'broken: last stage runs as root',
      'broken: needs one HEALTHCHECK',
      'broken: ENV bakes in a secret: AWS_SECRET_ACCESS_KEY=abc',
      'broken: ADD of a remote URL',
      'broken: COPY source missing-file does not exist',
      'broken: npm install instead of npm ci',
      'broken: installs nothing with npm ci',
    ]);
  });

  it("takes only .nvmrc's Node on a slim image as a base, by tag or pinned by digest", () => {
    const bases = (images: string[]) =>
      problems('bases', '.', DockerfileParser.parse(images.map((image) => `FROM ${image}`).join('\n'))).filter((p) =>
        p.startsWith('bases: base '),
      );
    const digest = 'a'.repeat(64);
    expect(bases([`node:${NODE_MAJOR}-bookworm-slim`, `node:${NODE_MAJOR}-bookworm-slim@sha256:${digest}`])).toEqual(
      [],
    );
    expect(
      bases([
        `node:${Number(NODE_MAJOR) - 2}-bookworm-slim`,
        `node:${NODE_MAJOR}`,
        `node:${NODE_MAJOR}-bookworm-slim@sha256:abc`,
      ]),
    ).toEqual([
      `bases: base node:${Number(NODE_MAJOR) - 2}-bookworm-slim`,
      `bases: base node:${NODE_MAJOR}`,
      `bases: base node:${NODE_MAJOR}-bookworm-slim@sha256:abc`,
    ]);
  });

  it.each(IMAGES.filter((i) => i.entry))(
    '$path builds in one stage and runs only dist/ with production dependencies',
    ({ path, entry }) => {
      const dockerfile = parse(path);
      const froms = dockerfile.getFROMs();
      expect(froms.length).toBeGreaterThanOrEqual(2);
      const buildStage = froms[0]?.getBuildStage() ?? '';
      const all = dockerfile.getInstructions();
      expect(all.some((i) => i.getKeyword() === 'RUN' && text(i).includes('npm run build'))).toBe(true);

      const stage = lastStage(dockerfile);
      const runs = stage.filter((i) => i.getKeyword() === 'RUN').map(text);
      expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
      const copies = stage.filter((i) => i.getKeyword() === 'COPY').map((i) => [...flags(i), ...args(i)].join(' '));
      expect(copies).toEqual(['package.json package-lock.json ./', `--from=${buildStage} /app/dist ./dist`]);

      // Plain node on the compiled entry point, whose source exists; no tsx at run time.
      const cmd = stage.filter((i) => i.getKeyword() === 'CMD').map(text);
      expect(cmd).toEqual([`["node", "${entry}"]`]);
      expect(existsSync(join(ROOT, (entry ?? '').replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
      expect(read(path)).not.toMatch(/\btsx\b/);

      // The health check runs the compiled healthcheck script (which picks the port per role and
      // reads it with the config schema), from its absolute path in the image.
      const healthcheck = text(dockerfile.getHEALTHCHECKs()[0] as Instruction);
      expect(healthcheck).toMatch(/CMD \["node", "\/app\/dist\/cli\/healthcheck\.js"\]$/);
      expect(existsSync(join(ROOT, 'cli/healthcheck.ts'))).toBe(true);
      expect(healthcheck).not.toMatch(/9464|3000/);
      expect(CONFIG_KEYS).toContain('METRICS_PORT');

      // djq on PATH, pointing at the bin of package.json.
      const bin = (JSON.parse(read('package.json')) as { bin: Record<string, string> }).bin.djq;
      expect(runs.some((r) => r.includes('/usr/local/bin/djq') && r.includes(`/app/${bin}`))).toBe(true);
    },
  );

  it('.dockerignore lets in the manifests and every folder tsc compiles, and keeps the rest out', () => {
    const patterns = dockerignorePatterns();
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      ...tsconfigIncludes().map((d) => `${d}/x.ts`),
    ];
    for (const file of needed) expect(dockerignoreExcludes(patterns, file), file).toBe(false);
    const unwanted = [
      '.env',
      '.env.local',
      '.git/config',
      'node_modules/zod/index.js',
      'dist/worker/main.js',
      'test/deploy/smoke.test.ts',
      'shared/config.test.ts',
      'docker-compose.yml',
      'monk/djq.yaml',
      'README.md',
      // Harness code: the local stack and its embedded services never reach an image.
      'stack/start.ts',
      'devtools/local-services.ts',
      'bench/run.ts',
      'chaos/run.ts',
      'scripts/env-table.ts',
    ];
    for (const file of unwanted) expect(dockerignoreExcludes(patterns, file), file).toBe(true);
    // Every source file tsc would compile is in the context.
    const sources = repoFiles().filter(
      (f) => tsconfigIncludes().some((d) => f.startsWith(`${d}/`)) && f.endsWith('.ts'),
    );
    expect(sources.length).toBeGreaterThan(10);
    for (const file of sources.filter((f) => !f.endsWith('.test.ts')))
      expect(dockerignoreExcludes(patterns, file), file).toBe(false);
  });
});
