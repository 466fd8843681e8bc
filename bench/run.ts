// `npm run bench [-- --quick]`: each measurement of issue 6 against its baseline in one run, a table
// on the terminal and bench/results/latest.json (quick.json for --quick, which is only a smoke run).
import '../shared/runtime/node-version.js';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { benchCharts } from '../charts/bench.js';
import { writeCharts } from '../charts/main.js';
import { scriptFlags } from '../devtools/script-flags.js';
import { parseFlags } from '../shared/runtime/flags.js';
import { clearProgress, progress } from './report.js';
import { capacitySection } from './sections/capacity.js';
import { ceilingRun, naiveRun, projectRun } from './sections/end-to-end.js';
import { history } from './sections/history.js';
import { hotAggregate } from './sections/hot-aggregate.js';
import { idleFleet } from './sections/idle-fleet.js';
import { latency, type WorkerPlacement } from './sections/latency.js';
import { memory } from './sections/memory.js';
import { nodeVersions } from './sections/node-versions.js';
import { producerRates } from './sections/producer.js';
import { queueOverhead } from './sections/queue-overhead.js';
import { redisCommands } from './sections/redis-commands.js';
import { redisCost } from './sections/redis-cost.js';
import { roundTrips } from './sections/round-trips.js';
import { scaling } from './sections/scaling.js';
import { searchSection } from './sections/search.js';
import { shardsSection } from './sections/shards.js';
import { tracingOverhead } from './sections/tracing.js';
import { workerProfile } from './sections/worker-profile.js';
import { type Figures, summarise } from './summary/summarise.js';
import { CONCURRENCY, startBenchServices } from './support.js';

const SECTIONS = [
  ...['overhead', 'e2e', 'trips', 'commands', 'profile', 'scaling', 'latency', 'memory', 'producer'],
  ...['tracing', 'history', 'hot', 'shards', 'node-versions', 'capacity', 'redis-cost', 'idle-fleet', 'search'],
];

const BENCH_USAGE = `Usage: npm run bench [-- --quick] [--only=SECTION[,SECTION…]] [--jobs=N] [--redis-port=N] [--latency-worker=WHERE]

Measures each figure against its baseline on this machine (several minutes; --quick is a smoke run
of a minute or two) and writes a table on the terminal and bench/results/latest.json (quick.json
for --quick; a partial JSON with --only).

Options:
  --quick         small sizes, one round: checks that every section runs, not what it measures
  --only=LIST     only these sections: ${SECTIONS.join(', ')}
  --jobs=N        the queue-overhead section's job count (for profiling)
  --redis-port=N  the bench's own redis-server on this port (default: any free one)
  --latency-worker=WHERE  the latency section's worker: child (a process of its own, as deployed;
                  the default) or in-process (beside the producer, as the section ran before)
  -h, --help      this help

Example:
  npm run bench -- --quick --only=overhead,e2e`;

const isPlacement = (value: string): value is WorkerPlacement => value === 'child' || value === 'in-process';

function readBenchFlags() {
  const { values } = parseFlags({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      jobs: { type: 'string' },
      'redis-port': { type: 'string' },
      'latency-worker': { type: 'string', default: 'child' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const only = values.only?.split(',').filter(Boolean);
  const unknown = only?.filter((name) => !SECTIONS.includes(name)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(', ')}`);
  const jobs = values.jobs === undefined ? 0 : Number(values.jobs);
  if (!Number.isInteger(jobs) || jobs < 0) throw new Error(`--jobs needs a whole number, got "${values.jobs}"`);
  const redisPort = values['redis-port'] === undefined ? 0 : Number(values['redis-port']);
  if (!Number.isInteger(redisPort) || redisPort < 0)
    throw new Error(`--redis-port needs a port, got "${values['redis-port']}"`);
  const latencyWorker = values['latency-worker'];
  if (!isPlacement(latencyWorker))
    throw new Error(`--latency-worker needs child or in-process, got "${latencyWorker}"`);
  return { quick: values.quick, only, jobs, redisPort, latencyWorker, help: values.help };
}

const flags = scriptFlags('bench', BENCH_USAGE, readBenchFlags);
const quick = flags.quick;
/** `--only=overhead,e2e,...` runs a subset while working on one figure (the JSON is then partial). */
const only = flags.only;
const wanted = (name: string) => !only || only.includes(name);
/** `--jobs=N` overrides the queue-overhead job count (profiling). */
const jobsFlag = flags.jobs;
/** `--redis-port=N` puts the bench's own redis-server on that port (default: any free one). */
const redisPort = flags.redisPort;

/** Each section's sizes: a quick run's (`--quick`: does every section run?) and a full run's. */
const SIZES = {
  overhead: { quick: { jobs: 2000, rounds: 1 }, full: { jobs: 20_000, rounds: 3 } },
  e2e: { quick: { jobs: 400, rounds: 1, ceilingSeconds: 2 }, full: { jobs: 4000, rounds: 3, ceilingSeconds: 5 } },
  trips: { quick: 120, full: 400 },
  commands: { quick: { jobs: 400, perSec: 200 }, full: { jobs: 2000, perSec: 200 } },
  profile: { quick: { jobs: 400, inMemoryJobs: 2000 }, full: { jobs: 4000, inMemoryJobs: 20_000 } },
  scaling: { quick: { jobsPerWorker: 80, concurrency: 2 }, full: { jobsPerWorker: 600, concurrency: 2 } },
  latency: {
    quick: { perSec: 200, seconds: 4, warmupSeconds: 1 },
    full: { perSec: 200, seconds: 30, warmupSeconds: 2 },
  },
  memory: { quick: [300, 1500] as [number, number], full: [5000, 50_000] as [number, number] },
  producer: { quick: { bulkJobs: 3000, singleJobs: 500 }, full: { bulkJobs: 20_000, singleJobs: 5000 } },
  tracing: { quick: { jobs: 300, rounds: 1 }, full: { jobs: 4000, rounds: 3 } },
  history: {
    quick: { shortEvents: 10, longEvents: 2000, updates: 40 },
    full: { shortEvents: 10, longEvents: 10_000, updates: 300 },
  },
  hot: { quick: 200, full: 1000 },
  capacity: { quick: { jobs: 300, capacity: 100 }, full: { jobs: 2000, capacity: 100 } },
  shards: { quick: { jobs: 300, rounds: 1 }, full: { jobs: 3000, rounds: 3 } },
  nodeVersions: { quick: { jobs: 2000, pairs: 1 }, full: { jobs: 20_000, pairs: 3 } },
  idleFleet: { quick: { seconds: 15, rounds: 1, standbyAfterMs: 3000 }, full: { seconds: 60, rounds: 2 } },
  redisCost: { quick: { jobs: 400, perSec: 200, pairs: 1 }, full: { jobs: 2000, perSec: 200, pairs: 5 } },
  search: { quick: { jobs: 2000, samples: 20 }, full: { jobs: 100_000, samples: 200 } },
};
const sizes = Object.fromEntries(
  Object.entries(SIZES).map(([section, size]) => [section, quick ? size.quick : size.full]),
) as { [S in keyof typeof SIZES]: (typeof SIZES)[S]['quick'] };

function versions(redisVersion: string) {
  const require = createRequire(import.meta.url);
  // Up from the package's entry point to its own package.json: some packages (OpenTelemetry's) do
  // not export ./package.json, and some have nested ones (dist/esm/package.json) without a name.
  const version = (pkg: string) => {
    for (let dir = dirname(require.resolve(pkg)); dir !== dirname(dir); dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (manifest.name === pkg) return manifest.version;
    }
    return 'unknown';
  };
  return {
    node: process.version,
    redis: redisVersion,
    bullmq: version('bullmq'),
    ioredis: version('ioredis'),
    dynalite: version('dynalite'),
    awsSdkDynamodb: version('@aws-sdk/client-dynamodb'),
    openTelemetrySdkNode: version('@opentelemetry/sdk-node'),
    bullmqOtel: version('bullmq-otel'),
  };
}

async function main() {
  const startedAt = new Date();
  const load = loadavg();
  progress('starting redis-server and dynalite');
  const services = await startBenchServices(redisPort ? { port: redisPort } : {});
  const figures: Figures = {};
  try {
    if (wanted('overhead')) {
      figures.queueOverhead = await queueOverhead(
        services,
        jobsFlag ? { jobs: jobsFlag, rounds: sizes.overhead.rounds } : sizes.overhead,
      );
    }
    if (wanted('e2e')) {
      const { jobs, rounds, ceilingSeconds } = sizes.e2e;
      figures.naive = [];
      figures.project = [];
      figures.ceiling = [];
      // Interleaved rounds: noise from the rest of the machine hits every side alike.
      for (let round = 0; round < rounds; round++) {
        figures.naive.push(await naiveRun(services, jobs));
        figures.project.push(await projectRun(services, jobs));
        progress('backend ceiling', `${ceilingSeconds} s of PutItem at concurrency ${CONCURRENCY}`);
        figures.ceiling.push(await ceilingRun(services, ceilingSeconds));
      }
    }
    if (wanted('trips')) figures.roundTrips = await roundTrips(services, sizes.trips);
    if (wanted('commands')) figures.redisCommands = await redisCommands(services, sizes.commands);
    if (wanted('profile')) figures.workerProfile = await workerProfile(services, sizes.profile);
    if (wanted('scaling')) figures.scaling = await scaling(services, sizes.scaling);
    if (wanted('latency'))
      figures.latency = await latency(services, { ...sizes.latency, placement: flags.latencyWorker });
    if (wanted('memory')) figures.memory = await memory(services, sizes.memory);
    if (wanted('producer')) figures.producer = await producerRates(services, sizes.producer);
    if (wanted('tracing')) figures.tracing = await tracingOverhead(services, sizes.tracing);
    if (wanted('history')) figures.history = await history(services, sizes.history);
    if (wanted('hot')) figures.hotAggregate = await hotAggregate(services, sizes.hot);
    if (wanted('shards')) figures.shards = await shardsSection(services, sizes.shards);
    if (wanted('node-versions')) figures.nodeVersions = await nodeVersions(services, sizes.nodeVersions);
    if (wanted('redis-cost')) figures.redisCost = await redisCost(services, sizes.redisCost);
    if (wanted('idle-fleet')) figures.idleFleet = await idleFleet(services, sizes.idleFleet);
    if (wanted('capacity')) figures.capacity = await capacitySection(sizes.capacity);
    if (wanted('search')) figures.search = await searchSection(services, sizes.search);
    const redisVersion = /redis_version:(\S+)/.exec(await services.control.info('server'))?.[1] ?? 'unknown';
    clearProgress();
    const { table, json } = summarise(figures, quick);
    const document = {
      ...json,
      quick,
      ...(only ? { only } : {}),
      startedAt: startedAt.toISOString(),
      durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      concurrency: CONCURRENCY,
      sizes,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        loadAverageAtStart: load.map((l) => Math.round(l * 100) / 100),
        totalMemoryMB: Math.round(totalmem() / 1048576),
        platform: `${process.platform} ${process.arch}`,
      },
      versions: versions(redisVersion),
    };
    const dir = join(import.meta.dirname, 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, quick ? 'quick.json' : only ? 'partial.tmp.json' : 'latest.json');
    writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
    console.log(table);
    console.log(`\nWrote ${file}`);
    // Only a full run redraws the charts in docs/results.md: a quick or partial one would replace them with noise.
    if (!quick && !only) for (const chart of writeCharts(benchCharts(document))) console.log(`Wrote ${chart}`);
  } finally {
    await services.stop();
  }
}

main().then(
  // Explicit exit: a closed worker service can leave its shutdown timer pending for SHUTDOWN_TIMEOUT_MS.
  () => process.exit(0),
  (error: unknown) => {
    clearProgress();
    console.error(error);
    process.exit(1);
  },
);
