// The dependency rules `npm run lint` enforces on the repository's own .ts files: no import circle,
// neither between files nor between top-level folders (charts/ renders what bench/ and chaos/ hand
// it, so it must not import them back), and product code (what the images compile) never imports
// harness code (tests, bench, chaos, the local stack, dev tooling). Import specifiers come from
// TypeScript's own pre-parser, so comments and strings never count; `import type` counts too,
// since a type circle is still a tangle to read.
//   npx tsx scripts/check-imports.ts          # exit 1 and list the problems, if any
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

/**
 * The product folders: the code that runs in production, the folders tsc compiles for the images
 * (tsconfig.json "include", which .dockerignore must let in; test/deploy checks that). Everything
 * else is harness. `stack/` is harness on purpose: it is `npm start`, which starts the embedded
 * Redis and dynalite of devtools/, and no image copies or runs it.
 */
export function productFolders(root: string): string[] {
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { include?: string[] };
  return tsconfig.include ?? [];
}

/** Folders and files never read: installed packages, build output, recorded results. */
const SKIPPED = new Set(['node_modules', 'dist', 'bench/results', 'chaos/results']);

export interface ImportEdge {
  from: string;
  to: string;
}

export interface ImportReport {
  files: number;
  /** The product folders the rule applied (tsconfig.json "include"). */
  product: string[];
  /** Each circle as the files along it, the first repeated at the end. */
  circles: string[][];
  /** Circles between top-level folders, each with one import that makes each of its steps. */
  folderCircles: { folders: string[]; through: ImportEdge[] }[];
  /** Product files importing a file outside the product folders. */
  harnessImports: ImportEdge[];
}

/** Every .ts file under `root`, as a path relative to it with forward slashes. */
export function sourceFiles(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    const rel = relative(root, full).split(sep).join('/');
    if (name.startsWith('.') || SKIPPED.has(rel)) continue;
    if (statSync(full).isDirectory()) out.push(...sourceFiles(root, full));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** The repository files `file` imports: relative specifiers only, `./x.js` resolved to `./x.ts`. */
export function importsOf(root: string, file: string, known: ReadonlySet<string>): string[] {
  const source = readFileSync(join(root, file), 'utf8');
  const specifiers = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
  const out = new Set<string>();
  for (const specifier of specifiers) {
    if (!specifier.startsWith('.')) continue;
    const base = join(dirname(file), specifier).split(sep).join('/');
    const candidates = [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, `${base}/index.ts`];
    const target = candidates.find((c) => known.has(c));
    if (target) out.add(target);
  }
  return [...out];
}

export function importGraph(root: string): Map<string, string[]> {
  const files = sourceFiles(root);
  const known = new Set(files);
  return new Map(files.map((file) => [file, importsOf(root, file, known)]));
}

/**
 * The graph's circles, one per strongly connected component (Tarjan), each shown as one cycle
 * through it: enough to find where to cut, and the next run shows any that remain.
 */
export function findCircles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];

  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    const selfImport = (graph.get(node) ?? []).includes(node);
    if (component.length > 1 || selfImport) components.push(component);
  };

  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((component) => cycleWithin(graph, new Set(component)));
}

/** One cycle through the component's first file (by name), found breadth-first so it is short. */
function cycleWithin(graph: ReadonlyMap<string, readonly string[]>, members: ReadonlySet<string>): string[] {
  const start = [...members].sort()[0] ?? '';
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() ?? '';
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0] ?? '') ?? start);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

/** A file's top-level folder; files at the root count as the folder '.'. */
export function folderOf(file: string): string {
  return file.includes('/') ? (file.split('/')[0] ?? '.') : '.';
}

/** The graph of top-level folders, and for each folder-to-folder step one import that makes it. */
export function folderGraph(graph: ReadonlyMap<string, readonly string[]>) {
  const folders = new Map<string, string[]>();
  const witness = new Map<string, ImportEdge>();
  for (const [from, targets] of graph) {
    const a = folderOf(from);
    if (!folders.has(a)) folders.set(a, []);
    for (const to of targets) {
      const b = folderOf(to);
      if (a === b || witness.has(`${a} ${b}`)) continue;
      witness.set(`${a} ${b}`, { from, to });
      folders.get(a)?.push(b);
    }
  }
  return { folders, witness };
}

export function isProduct(file: string, product: readonly string[]): boolean {
  return product.some((folder) => file.startsWith(`${folder}/`));
}

export function checkImports(root: string): ImportReport {
  const graph = importGraph(root);
  const product = productFolders(root);
  const harnessImports: ImportEdge[] = [];
  for (const [from, targets] of graph) {
    if (!isProduct(from, product)) continue;
    for (const to of targets) if (!isProduct(to, product)) harnessImports.push({ from, to });
  }
  const { folders, witness } = folderGraph(graph);
  const folderCircles = findCircles(folders).map((circle) => ({
    folders: circle,
    through: circle.slice(1).map((to, i) => witness.get(`${circle[i]} ${to}`) as ImportEdge),
  }));
  return { files: graph.size, product, circles: findCircles(graph), folderCircles, harnessImports };
}

export function formatReport(report: ImportReport): string[] {
  const product = report.product.map((folder) => `${folder}/`).join(', ');
  return [
    ...report.circles.map((circle) => `import circle: ${circle.join(' -> ')}`),
    ...report.folderCircles.map(
      ({ folders, through }) =>
        `folder circle: ${folders.map((f) => `${f}/`).join(' -> ')} (${through.map((e) => `${e.from} -> ${e.to}`).join(', ')})`,
    ),
    ...report.harnessImports.map(
      ({ from, to }) => `product code imports harness code: ${from} -> ${to} (product: ${product})`,
    ),
  ];
}

function main(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const report = checkImports(root);
  const problems = formatReport(report);
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) {
    console.error(`check-imports: ${problems.length} problem(s) in ${report.files} files`);
    process.exitCode = 1;
  } else {
    console.log(
      `check-imports: ${report.files} files, no import circle between files or folders, product code imports no harness code`,
    );
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
