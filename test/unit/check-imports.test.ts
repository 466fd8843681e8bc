// The dependency rule of `npm run lint` (scripts/check-imports.ts) on small fixture trees: it finds
// circles, including type-only and re-export ones, and product code importing harness code, and
// passes a tree without either. Comments and strings that look like imports do not count.
import { describe, expect, it } from 'vitest';
import { checkImports, findCircles, formatReport } from '../../scripts/check-imports.js';
import { fixtureTrees } from '../helpers/fixture-tree.js';

/** A repository of the given files, whose product is what tsconfig.json includes: here `app/`. */
const fixture = fixtureTrees('check-imports');

describe('check-imports', () => {
  it('passes a tree without circles where only harness code imports product code', () => {
    const root = fixture({
      'app/a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'app/b.ts': "import { z } from 'zod';\nexport const b = z;\n",
      'tools/t.ts': "import { a } from '../app/a.js';\nexport const t = a;\n",
      'app/c.ts': "// import { t } from '../tools/t.js';\nexport const s = \"import { t } from '../tools/t.js'\";\n",
    });

    const report = checkImports(root);

    expect(report.files).toBe(4);
    expect(report.product).toEqual(['app']);
    expect(formatReport(report)).toEqual([]);
  });

  const failing: { rule: string; files: Record<string, string>; problems: string[] }[] = [
    {
      rule: 'a circle, even one made of type imports and re-exports',
      files: {
        'app/history.ts': "import type { Store } from './store/types.js';\nexport type Entry = { store: Store };\n",
        'app/store/types.ts': "export type { Failure } from './errors.js';\nexport interface Store {}\n",
        'app/store/errors.ts': "import type { Entry } from '../history.js';\nexport type Failure = Entry;\n",
        'app/other.ts': "import './history.js';\n",
      },
      problems: ['import circle: app/history.ts -> app/store/types.ts -> app/store/errors.ts -> app/history.ts'],
    },
    {
      rule: 'product code importing harness code, by static or dynamic import',
      files: {
        'app/main.ts': "import { start } from '../tools/services.js';\nawait import('../test/helper.js');\nstart();\n",
        'tools/services.ts': 'export function start() {}\n',
        'test/helper.ts': 'export {};\n',
      },
      problems: [
        'product code imports harness code: app/main.ts -> tools/services.ts (product: app/)',
        'product code imports harness code: app/main.ts -> test/helper.ts (product: app/)',
      ],
    },
    {
      rule: 'a circle between top-level folders, though no file circle closes',
      files: {
        'bench/run.ts': "import { chart } from '../charts/bench.js';\nchart();\n",
        'bench/results.ts': 'export const STEPS = [];\n',
        'charts/bench.ts': "import { STEPS } from '../bench/results.js';\nexport const chart = () => STEPS;\n",
      },
      problems: [
        'folder circle: bench/ -> charts/ -> bench/ (bench/run.ts -> charts/bench.ts, charts/bench.ts -> bench/results.ts)',
      ],
    },
  ];

  it.each(failing)('fails on $rule', ({ files, problems }) => {
    const root = fixture(files);

    const report = checkImports(root);

    expect(formatReport(report)).toEqual(problems);
  });

  it('reports one short cycle per tangle, and a file that imports itself', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c', 'a']],
      ['c', ['a']],
      ['d', ['d']],
      ['e', ['a']],
    ]);

    expect(findCircles(graph)).toEqual([
      ['a', 'b', 'a'],
      ['d', 'd'],
    ]);
  });
});
