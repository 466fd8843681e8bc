// The size rule of `npm run lint` (scripts/check-function-length.ts) on small fixture trees: every
// kind of function over the limit is reported with file, line, name and length; tests and harness
// folders are not measured; the temporary allow-list passes exactly the names it holds.
import { describe, expect, it } from 'vitest';
import {
  checkFunctionLength,
  formatLongFunction,
  longFunctions,
  MAX_FUNCTION_LINES,
} from '../../scripts/check-function-length.js';
import { fixtureTrees } from '../helpers/fixture-tree.js';

/** A repository of the given files, whose product is what tsconfig.json includes: here `app/`. */
const fixture = fixtureTrees('check-function-length');

/** `n` statements, one a line. */
function body(n: number): string {
  return Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');
}

describe('check-function-length', () => {
  it('passes a function of exactly the limit and fails one a line longer', () => {
    const atLimit = `function fits() {\n${body(MAX_FUNCTION_LINES - 2)}\n}\n`;
    const over = `function long() {\n${body(MAX_FUNCTION_LINES - 1)}\n}\n`;

    expect(longFunctions('a.ts', atLimit)).toEqual([]);
    expect(longFunctions('a.ts', over)).toEqual([{ file: 'a.ts', line: 1, name: 'long', lines: 61 }]);
  });

  it('names methods, constructors, arrows and function expressions by what a reader searches for', () => {
    const text = [
      'class Service {',
      `  constructor() {\n${body(3)}\n  }`,
      `  start() {\n${body(3)}\n  }`,
      '}',
      `export const handler = () => {\n${body(3)}\n};`,
      `const table = { open: function () {\n${body(3)}\n} };`,
      `setTimeout(() => {\n${body(3)}\n});`,
    ].join('\n');

    const found = longFunctions('s.ts', text, 4).map(({ name, line, lines }) => ({ name, line, lines }));

    expect(found).toEqual([
      { name: 'constructor', line: 2, lines: 5 },
      { name: 'start', line: 7, lines: 5 },
      { name: 'handler', line: 13, lines: 5 },
      { name: 'open', line: 18, lines: 5 },
      { name: '<function passed to setTimeout>', line: 23, lines: 5 },
    ]);
  });

  it('measures product files only, not tests or harness folders', () => {
    const long = `export function big() {\n${body(MAX_FUNCTION_LINES)}\n}\n`;
    const root = fixture({
      'app/big.ts': long,
      'app/big.test.ts': long,
      'tools/big.ts': long,
    });

    const report = checkFunctionLength(root, MAX_FUNCTION_LINES);

    expect(report.files).toBe(1);
    expect(report.tooLong.map((f) => formatLongFunction(f))).toEqual([
      'app/big.ts:1 big is 62 lines (limit 60): split it into named steps, one small function each ' +
        '(a switch: one function per case, or a typed table per kind)',
    ]);
  });
});
