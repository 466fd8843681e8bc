// Sums a V8 CPU profile (`node --cpu-prof`) by step of the pipeline: each sample is charged to the
// innermost frame that belongs to a known module of ours or a package, so Node's internals and
// built-ins (a socket write, JSON.stringify) count for whoever called them.
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Steps, first match wins: a pattern on the frame's file, relative to the repository (packages as
 * `node_modules/<name>/…`) → the step it is part of.
 */
const STEPS: [RegExp, string][] = [
  [/^worker\/(processor|put-back)\.ts/, 'processor'],
  [/^shared\/domain\/payload\.ts|^node_modules\/zod\//, 'payload validation (zod)'],
  [/^worker\/(user-commands|handlers|keyed-mutex)\.ts|^shared\/domain\//, 'user commands (write path)'],
  [/^shared\/lifecycle\/history\.ts|^shared\/store\/dynamo-job-history\.ts/, 'history'],
  [/^shared\/store\//, 'stores'],
  [/^shared\/dynamo\/|^node_modules\/(@aws-sdk|@smithy|@aws-crypto|@aws|fast-xml-parser)\//, 'DynamoDB SDK'],
  [/^shared\/lifecycle\/ledger\.ts/, 'ledger'],
  [/^shared\/lifecycle\/|^shared\/wiring\.ts/, 'lifecycle'],
  [/^node_modules\/(pino[^/]*|@pinojs|sonic-boom|thread-stream|fast-redact)\/|^shared\/runtime\/logger\.ts/, 'logging'],
  [/^node_modules\/prom-client\/|^worker\/metrics\.ts/, 'metrics'],
  [/^node_modules\/(bullmq|msgpackr|cron-parser|semver)\//, 'BullMQ'],
  [
    /^node_modules\/(ioredis|redis-parser|@ioredis|redis-errors|denque|cluster-key-slot|standard-as-callback)\//,
    'ioredis',
  ],
  [/^node_modules\/(tsx|esbuild|get-tsconfig)\//, 'TypeScript loader (tsx)'],
  [/^bench\//, 'bench harness (polling, profiler)'],
  [/^node_modules\//, 'other packages'],
  [/^[a-z]/, 'other of ours'],
];

/** The repository's root as profile URLs spell it. */
const ROOT = `file://${join(import.meta.dirname, '..')}/`;

/** V8's pseudo-frames: not code of anyone's. */
const PSEUDO = new Map([
  ['(garbage collector)', 'GC'],
  ['(idle)', 'idle'],
  ['(program)', 'V8 and native (program)'],
]);

function stepOf(node: ProfileNode): string | undefined {
  const pseudo = PSEUDO.get(node.callFrame.functionName);
  if (pseudo) return pseudo;
  const { url } = node.callFrame;
  if (!url.startsWith(ROOT)) return undefined; // Node's own (node:…) and V8's built-ins
  const path = url.slice(ROOT.length);
  for (const [pattern, step] of STEPS) if (pattern.test(path)) return step;
  return undefined;
}

/** Samples that are not the worker's work: left out of the totals. */
export const NOT_WORK = new Set(['idle', 'bench harness (polling, profiler)']);

/**
 * Microseconds of CPU per step, counting only samples taken within [fromMicros, toMicros] of the
 * profile's clock (CLOCK_MONOTONIC, the one `process.hrtime` reads), so start-up and shutdown stay out.
 */
export function cpuBySteps(profile: CpuProfile, fromMicros = -Infinity, toMicros = Infinity): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node);
  const stepById = new Map<number, string>();
  const resolve = (id: number): string => {
    const known = stepById.get(id);
    if (known) return known;
    let step: string | undefined;
    let inNode = false;
    for (let node = byId.get(id); node && !step; node = parent.get(node.id)) {
      step = stepOf(node);
      inNode ||= node.callFrame.url.startsWith('node:');
    }
    // Nothing of ours or a package's on the stack: Node's own (deferred socket writes, timers) or V8's.
    const found = step ?? (inNode ? 'Node internals (no caller of ours)' : 'V8 built-ins (promise jobs)');
    stepById.set(id, found);
    return found;
  };
  const totals = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < fromMicros || at > toMicros) return;
    const step = resolve(id);
    totals.set(step, (totals.get(step) ?? 0) + delta);
  });
  return totals;
}
