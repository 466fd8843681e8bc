// Imported first by every entry point (npm start, the services, djq, bench, chaos, charts): on a
// Node older than the project supports it says which Node is needed and exits 2, before any other
// module runs and fails with an error that names something else. It imports nothing, and ES modules
// evaluate in import order, so as the first import it runs before the rest of the program.
// The minimum is package.json's engines.node and the recommendation is .nvmrc; a test keeps them equal.

/** The oldest Node every dependency accepts (testcontainers 12 asks for 22.22). */
export const MIN_NODE = '22.22.0';
/** The active LTS: CI, the images and .nvmrc use it. */
export const RECOMMENDED_NODE_MAJOR = 24;

function parts(version: string): number[] {
  return version
    .replace(/^v/, '')
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0);
}

/** Whether `version` (as in process.versions.node) is at least MIN_NODE. */
export function isSupportedNode(version: string): boolean {
  const have = parts(version);
  const need = parts(MIN_NODE);
  for (let i = 0; i < need.length; i++) {
    const a = have[i] ?? 0;
    const b = need[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** The message for a Node that is too old, or undefined when it is fine. */
export function nodeVersionProblem(version: string, execPath = process.execPath): string | undefined {
  if (isSupportedNode(version)) return undefined;
  return [
    `This program needs Node.js >= ${MIN_NODE.replace(/\.0$/, '')} (${RECOMMENDED_NODE_MAJOR} LTS recommended), but it was started on Node ${version} (${execPath}).`,
    `Install Node.js ${RECOMMENDED_NODE_MAJOR} (in a checkout, \`nvm install\` reads .nvmrc) and start it again.`,
  ].join('\n');
}

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  // Exit now, not via exitCode: nothing imported after this module may run on this Node.
  process.exit(2);
}
