// The Node version check: its comparison, its agreement with package.json, .nvmrc and
// .node-version, and that every entry point runs it before anything else (a real child process
// told it is on Node 20, since the machine's own Node may be any supported one).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  isSupportedNode,
  MIN_NODE,
  nodeVersionProblem,
  RECOMMENDED_NODE_MAJOR,
} from '../../shared/runtime/node-version.js';

const root = join(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

describe('isSupportedNode', () => {
  it.each([
    ['24.22.3', true],
    ['v24.0.0', true],
    ['26.1.0', true],
    [MIN_NODE, true],
    ['22.23.5', true],
    ['22.21.9', false],
    ['20.20.2', false],
    ['18.20.8', false],
  ])('%s -> %s', (version, supported) => {
    expect(isSupportedNode(version)).toBe(supported);
  });
});

describe('nodeVersionProblem', () => {
  it('names the Node it needs, the one it got and where that one is', () => {
    const message = nodeVersionProblem('20.20.2', '/usr/bin/node');

    expect(message).toContain('needs Node.js >= 22.22 (24 LTS recommended)');
    expect(message).toContain('started on Node 20.20.2 (/usr/bin/node)');
  });

  it('says nothing on this Node', () => {
    expect(nodeVersionProblem(process.versions.node)).toBeUndefined();
  });
});

describe('one Node version everywhere', () => {
  it('package.json engines.node is the check minimum', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines;
    expect(engines.node).toBe(`>=${MIN_NODE.replace(/\.0$/, '')}`);
  });

  it('.nvmrc and .node-version name the recommended major', () => {
    expect(read('.nvmrc').trim()).toBe(String(RECOMMENDED_NODE_MAJOR));
    expect(read('.node-version').trim()).toBe(String(RECOMMENDED_NODE_MAJOR));
    expect(Number(MIN_NODE.split('.')[0])).toBeLessThanOrEqual(RECOMMENDED_NODE_MAJOR);
  });
});

// `npm start`, the three services, djq, bench, chaos and charts: each must stop with the message alone.
const ENTRY_POINTS = [
  'stack/start.ts',
  'producer/main.ts',
  'worker/main.ts',
  'board/main.ts',
  'cli/djq.ts',
  'bench/run.ts',
  'chaos/run.ts',
  'charts/main.ts',
];

describe('entry points on an old Node', () => {
  // Node allows redefining process.versions.node; a preload does it before the entry point loads.
  const pretendNode20 = `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.20.2'})`;

  it.each(ENTRY_POINTS)('%s exits 2 with the message before doing anything else', (entry) => {
    const result = spawnSync(
      process.execPath,
      ['--import', pretendNode20, '--import', import.meta.resolve('tsx'), join(root, entry), 'stats'],
      // No config at all: any code that ran after the check would complain about it or start something.
      { cwd: root, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8', timeout: 30_000 },
    );

    expect(result.error).toBeUndefined();
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`${nodeVersionProblem('20.20.2', process.execPath)}\n`);
    expect(result.status).toBe(2);
  });
});

describe('npm ci on an old Node', () => {
  // npm checks engines against process.version: the same preload, for npm's own process.
  const pretendNode20 = `data:text/javascript,Object.defineProperty(process,'version',{value:'v20.20.2'});Object.defineProperty(process.versions,'node',{value:'20.20.2'})`;

  it('stops at once with one EBADENGINE error for the project (engine-strict), not a warning per package', () => {
    const dir = mkdtempSync(join(tmpdir(), 'djq-engine-'));
    try {
      for (const file of ['package.json', 'package-lock.json', '.npmrc'])
        copyFileSync(join(root, file), join(dir, file));
      const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
      const result = spawnSync(
        process.execPath,
        [
          '--import',
          pretendNode20,
          npmCli,
          'ci',
          '--dry-run',
          '--offline',
          '--ignore-scripts',
          '--no-audit',
          '--no-fund',
        ],
        { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: dir }, encoding: 'utf8', timeout: 60_000 },
      );
      const output = `${result.stdout}${result.stderr}`;

      expect(result.status, output).not.toBe(0);
      expect(output).toMatch(/Not compatible with your version of node\/npm: dynamo-job-queue@/);
      expect(output).toMatch(/Required: \{"node":">=22\.22"\}/);
      expect(output.match(/EBADENGINE/g)).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
