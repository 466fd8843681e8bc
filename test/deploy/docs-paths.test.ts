// The README and docs/ name repository paths (`shared/dynamo/table.ts`, links, charts): every one
// must exist, so a moved or renamed file cannot leave the docs pointing at nothing; and the README
// stays a front door (one page or two, the two commands, a link to every page of docs/).
import { execFileSync } from 'node:child_process';
import { existsSync, globSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** The Markdown files under test: the README, everything under docs/ that git tracks, and Monk's guide. */
function docFiles(): string[] {
  const tracked = execFileSync('git', ['ls-files', 'README.md', 'docs', 'monk/README.md'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return tracked.split('\n').filter((f) => f.endsWith('.md'));
}

/** Top-level names in the repository: a path is a repository path when it starts with one. */
function topLevel(): Set<string> {
  const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' });
  return new Set(tracked.split('\n').map((f) => f.split('/')[0] as string));
}

/** Paths built at run time or by a build, which a docs page may name though no checkout holds them. */
const GENERATED = ['dist/', '.djq/', 'node_modules/', 'bench/results/', 'chaos/results/', '.ci/node/'];

interface PathRef {
  file: string;
  line: number;
  path: string;
  /** Resolved from the repository root (`code` spans) or from the file's directory (links, images). */
  resolved: string;
}

/** Every repository path a Markdown text names: in `code` spans (from the root) and in links/images. */
function pathRefs(file: string, text: string, roots: Set<string>): PathRef[] {
  const refs: PathRef[] = [];
  text.split('\n').forEach((content, i) => {
    for (const [, token = ''] of content.matchAll(/`([^`\s]+)`/g)) {
      const path = token.replace(/[:#].*$/, '').replace(/[.,;)]+$/, '');
      if (!/^[\w.-]+\/[\w.*/@-]*$/.test(path)) continue;
      if (!roots.has(path.split('/')[0] as string)) continue;
      if (GENERATED.some((g) => path.startsWith(g))) continue;
      refs.push({ file, line: i + 1, path, resolved: path });
    }
    for (const [, target = ''] of content.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^([a-z]+:|#)/.test(target)) continue;
      const path = target.replace(/#.*$/, '');
      refs.push({ file, line: i + 1, path, resolved: relative(ROOT, join(ROOT, dirname(file), path)) });
    }
  });
  return refs;
}

function exists(resolved: string): boolean {
  const path = resolved.replace(/\/$/, '');
  return path.includes('*') ? globSync(path, { cwd: ROOT }).length > 0 : existsSync(join(ROOT, path));
}

describe('repository paths in the README and docs/', () => {
  it('finds the paths it is meant to check', () => {
    const refs = pathRefs(
      'docs/x.md',
      '`shared/runtime/config.ts`, [t](../test/unit), `djq/stack`, `dist/x.js`',
      topLevel(),
    );
    expect(refs.map((r) => r.resolved)).toEqual(['shared/runtime/config.ts', 'test/unit']);
  });

  it('every one exists', () => {
    const roots = topLevel();
    const refs = docFiles().flatMap((file) => pathRefs(file, readFileSync(join(ROOT, file), 'utf8'), roots));
    expect(refs.length).toBeGreaterThan(20);
    const missing = refs.filter((r) => !exists(r.resolved)).map((r) => `${r.file}:${r.line}: ${r.path}`);
    expect(missing).toEqual([]);
  });
});

describe('the README is a front door', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('fits in 250 lines, with the two commands', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
    expect(readme).toMatch(/^npm start$/m);
    expect(readme).toMatch(/^npm test$/m);
  });

  it('links every page under docs/', () => {
    const pages = docFiles().filter((f) => f.startsWith('docs/'));
    expect(pages.length).toBeGreaterThan(3);
    for (const page of pages) expect(readme, page).toContain(`](${page})`);
  });
});
