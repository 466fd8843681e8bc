// Section `node-versions`: the raw BullMQ no-op worker (the project's job options, the bench's
// concurrency) as a child process under Node 20 and under the Node running the bench, back to back
// in pairs that alternate which goes first, each draining the same number of jobs from the bench's
// Redis. The project itself refuses Node 20, so this is the one figure that can put the two side by
// side in the same run: what moving to the newer Node does for BullMQ's own work.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { operationJobOptions } from '../../shared/lifecycle/queues.js';
import { type RawChildReport, runRawWorkerChild } from '../children.js';
import { progress } from '../report.js';
import { withRunQueue } from '../run-queue.js';
import { type BenchServices, CONCURRENCY, medianPair, type Pairing, runConfig } from '../support.js';
import { benchGenerator, fillQueue, generate } from '../workload.js';

/** Where Node 20 is looked for when BENCH_NODE20 is not set: the system Node of the bench machines. */
const SYSTEM_NODE = '/usr/bin/node';

export interface NodeSideRun {
  /** process.versions.node of the child. */
  node: string;
  jobsPerSec: number;
  /** µs of the worker process's CPU per job (user + system) over the drain. */
  cpuMicrosPerJob: number;
}

export interface NodeVersionPair {
  /** Which side ran first in this pair: they alternate. */
  first: 'node20' | 'current';
  node20: NodeSideRun;
  current: NodeSideRun;
}

export type NodeVersionsResult =
  | { skipped: string }
  | {
      jobs: number;
      /** Where the Node 20 came from (BENCH_NODE20 or the system Node) and its version. */
      node20: { from: string; version: string };
      /** The Node running the bench. */
      current: { version: string };
      pairs: NodeVersionPair[];
      /** current ÷ Node 20 jobs/s: median pair and range. */
      ratio: Pairing;
      /** current ÷ Node 20 worker CPU per job: below 1 is less CPU on the current Node. */
      cpuRatio: Pairing;
    };

function versionOf(node: string): string {
  return execFileSync(node, ['-p', 'process.versions.node'], { timeout: 30_000 }).toString().trim();
}

/**
 * BENCH_NODE20 when set (it must run), else the system Node if its major is 20; undefined when
 * there is none, and the section is skipped.
 */
export function findNode20(configured = process.env.BENCH_NODE20): { path: string; version: string } | undefined {
  if (configured) return { path: configured, version: versionOf(configured) };
  if (!existsSync(SYSTEM_NODE)) return undefined;
  const version = versionOf(SYSTEM_NODE);
  return version.startsWith('20.') ? { path: SYSTEM_NODE, version } : undefined;
}

/** One side: a queue of its own filled with `jobs` (project job options), drained by the child under `node`. */
async function side(services: BenchServices, node: string, jobs: number, label: string): Promise<NodeSideRun> {
  const { config } = runConfig(services, label);
  return withRunQueue(services, config, async ({ queue }) => {
    await fillQueue(queue, generate(benchGenerator(config), jobs), operationJobOptions(config));
    const report: RawChildReport = await runRawWorkerChild(node, {
      redisUrl: services.redis.url,
      queueName: config.QUEUE_NAME,
      prefix: config.QUEUE_PREFIX,
      concurrency: CONCURRENCY,
      jobs,
    });
    return {
      node: report.node,
      jobsPerSec: Math.round(report.jobsPerSec),
      cpuMicrosPerJob: Math.round(report.cpuMicrosPerJob),
    };
  });
}

export async function nodeVersions(
  services: BenchServices,
  options: { jobs: number; pairs: number },
): Promise<NodeVersionsResult> {
  const node20 = findNode20();
  if (!node20) return { skipped: 'no Node 20 binary (set BENCH_NODE20)' };
  const current = { version: process.versions.node };
  const { jobs } = options;
  const pairs: NodeVersionPair[] = [];
  for (let i = 0; i < options.pairs; i++) {
    // Alternating which goes first: a warmer Redis or a burst of load elsewhere favours neither side.
    const first = i % 2 === 0 ? 'node20' : 'current';
    const run = (which: 'node20' | 'current') => {
      const [path, version] = which === 'node20' ? [node20.path, node20.version] : [process.execPath, current.version];
      progress('node versions', `pair ${i + 1}/${options.pairs}, Node ${version}, ${jobs} jobs`);
      return side(services, path, jobs, `node${version.split('.')[0]}`);
    };
    const a = await run(first);
    const b = await run(first === 'node20' ? 'current' : 'node20');
    pairs.push(first === 'node20' ? { first, node20: a, current: b } : { first, node20: b, current: a });
  }
  return {
    jobs,
    node20: { from: process.env.BENCH_NODE20 ? 'BENCH_NODE20' : node20.path, version: node20.version },
    current,
    pairs,
    ratio: medianPair(pairs.map((p) => p.current.jobsPerSec / p.node20.jobsPerSec)),
    cpuRatio: medianPair(pairs.map((p) => p.current.cpuMicrosPerJob / p.node20.cpuMicrosPerJob)),
  };
}
