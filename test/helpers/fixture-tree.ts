// Small repository trees on disk for the checks `npm run lint` runs (scripts/check-*.ts): each
// tree's product is what its tsconfig.json includes, here `app/`. Removed after each test.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';

/** A fixture factory for one test file; the trees it made are removed after each test. */
export function fixtureTrees(name: string): (files: Record<string, string>) => string {
  const roots: string[] = [];
  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });
  return (files) => {
    const root = mkdtempSync(join(tmpdir(), `${name}-`));
    roots.push(root);
    const all = { 'tsconfig.json': JSON.stringify({ include: ['app'] }), ...files };
    for (const [path, text] of Object.entries(all)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  };
}
