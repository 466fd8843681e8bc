// The size rule `npm run lint` enforces on product code (the folders tsconfig.json compiles for the
// images): no function, method, arrow, accessor or constructor longer than a screen, 60 lines from
// its first line to its last. A longer one is a list of named steps waiting to be written down.
// Functions are found with TypeScript's own parser, so a nested function counts on its own and also
// inside the one around it. Tests are harness, not product, and are not measured.
//   npx tsx scripts/check-function-length.ts   # exit 1 and list the long functions, if any
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { isProduct, productFolders, sourceFiles } from './check-imports.js';

/** The most lines a product function may span, its first and last line included. */
export const MAX_FUNCTION_LINES = 60;

export interface LongFunction {
  file: string;
  line: number;
  name: string;
  lines: number;
}

type FunctionNode =
  | ts.FunctionDeclaration
  | ts.MethodDeclaration
  | ts.ArrowFunction
  | ts.FunctionExpression
  | ts.ConstructorDeclaration
  | ts.GetAccessorDeclaration
  | ts.SetAccessorDeclaration;

function isFunction(node: ts.Node): node is FunctionNode {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessor(node) ||
    ts.isSetAccessor(node)
  );
}

/** The name a reader would search for: its own, else the variable or property it is assigned to. */
function nameOf(node: FunctionNode, source: ts.SourceFile): string {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name) return node.name.getText(source);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return parent.name.getText(source);
  }
  if (ts.isCallExpression(parent)) return `<function passed to ${parent.expression.getText(source).slice(0, 40)}>`;
  return '<anonymous function>';
}

/** Every function in `text` longer than `limit` lines, in the order they start. */
export function longFunctions(file: string, text: string, limit = MAX_FUNCTION_LINES): LongFunction[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line + 1;
  const out: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (isFunction(node)) {
      const line = lineOf(node.getStart(source));
      const lines = lineOf(node.getEnd()) - line + 1;
      if (lines > limit) out.push({ file, line, name: nameOf(node, source), lines });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** The product files measured: not tests, wherever they sit. */
export function measuredFiles(root: string): string[] {
  const product = productFolders(root);
  return sourceFiles(root).filter((file) => isProduct(file, product) && !file.endsWith('.test.ts'));
}

export function checkFunctionLength(root: string, limit = MAX_FUNCTION_LINES) {
  const files = measuredFiles(root);
  const tooLong = files.flatMap((file) => longFunctions(file, readFileSync(join(root, file), 'utf8'), limit));
  return { files: files.length, tooLong };
}

export function formatLongFunction(f: LongFunction, limit = MAX_FUNCTION_LINES): string {
  return (
    `${f.file}:${f.line} ${f.name} is ${f.lines} lines (limit ${limit}): split it into named steps, ` +
    'one small function each (a switch: one function per case, or a typed table per kind)'
  );
}

function main(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const report = checkFunctionLength(root);
  for (const f of report.tooLong) console.error(formatLongFunction(f));
  if (report.tooLong.length > 0) {
    console.error(`check-function-length: ${report.tooLong.length} function(s) too long in ${report.files} files`);
    process.exitCode = 1;
  } else {
    console.log(`check-function-length: ${report.files} product files, no function over ${MAX_FUNCTION_LINES} lines`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
