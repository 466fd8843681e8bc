// A child process: the raw BullMQ no-op worker (noop-worker.ts) draining a queue the bench has filled,
// on whichever Node started it. It reports its rate and its own CPU over the drain to the parent
// (IPC) and exits. No project module, not even the node-version check: the node-versions section
// runs it on Node 20, which the project refuses.
import { Redis } from 'ioredis';
import type { RawChildReport, RawChildSpec } from './children.js';
import { drainWithNoOpWorker } from './noop-worker.js';

const spec = JSON.parse(process.argv[2] ?? '') as RawChildSpec;
const redis = new Redis(spec.redisUrl, { maxRetriesPerRequest: null });
const cpu0 = process.cpuUsage();
const elapsedMs = await drainWithNoOpWorker(redis, spec);
const cpu = process.cpuUsage(cpu0);
redis.disconnect();
const report: RawChildReport = {
  node: process.versions.node,
  jobsPerSec: spec.jobs / (elapsedMs / 1000),
  cpuMicrosPerJob: (cpu.user + cpu.system) / spec.jobs,
};
process.send?.(report, () => process.exit(0));
