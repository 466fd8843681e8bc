// The bench's measurements as one document (the JSON's `details`), and what several of its
// renderings share: the end-to-end pairings and the cell formats.
import { fmt } from '../../charts/table.js';
import type { CapacitySection } from '../sections/capacity.js';
import type { BaselineRun, CeilingRun, ProjectRun } from '../sections/end-to-end.js';
import type { HistoryResult } from '../sections/history.js';
import type { HotAggregateResult } from '../sections/hot-aggregate.js';
import type { IdleFleetResult } from '../sections/idle-fleet.js';
import type { LatencyResult } from '../sections/latency.js';
import type { MemoryResult } from '../sections/memory.js';
import type { NodeVersionsResult } from '../sections/node-versions.js';
import type { ProducerResult } from '../sections/producer.js';
import type { QueueOverheadResult } from '../sections/queue-overhead.js';
import type { RedisCommandsResult } from '../sections/redis-commands.js';
import type { RedisCostResult } from '../sections/redis-cost.js';
import type { OperationTrips } from '../sections/round-trips.js';
import type { ScalingResult } from '../sections/scaling.js';
import type { SearchResult } from '../sections/search.js';
import type { ShardsResult } from '../sections/shards.js';
import type { TracingResult } from '../sections/tracing.js';
import type { WorkerProfileResult } from '../sections/worker-profile.js';
import { median, medianPair, type Pairing } from '../support.js';

export interface Figures {
  queueOverhead?: QueueOverheadResult;
  naive?: BaselineRun[];
  project?: ProjectRun[];
  ceiling?: CeilingRun[];
  roundTrips?: Record<string, OperationTrips>;
  redisCommands?: RedisCommandsResult;
  workerProfile?: WorkerProfileResult;
  scaling?: ScalingResult;
  latency?: LatencyResult;
  memory?: MemoryResult;
  producer?: ProducerResult;
  tracing?: TracingResult;
  history?: HistoryResult;
  hotAggregate?: HotAggregateResult;
  shards?: ShardsResult;
  capacity?: CapacitySection;
  nodeVersions?: NodeVersionsResult;
  idleFleet?: IdleFleetResult;
  redisCost?: RedisCostResult;
  search?: SearchResult;
}

/** The median of one figure over a section's runs; undefined when the section did not run. */
export function medianOf<T>(runs: T[] | undefined, key: (r: T) => number): number | undefined {
  return runs?.length ? median(runs.map(key)) : undefined;
}

/** A target's mark in the table: ✓ met, ✗ missed, nothing when the section did not run. */
export const check = (met: boolean | undefined) => (met === undefined ? '' : met ? ' ✓' : ' ✗');

/** A paired ratio with the range over all rounds: "0.93 (0.90–0.95)". */
export const spread = (p: Pairing) => `${fmt.ratio(p.ratio)} (${fmt.ratio(p.range[0])}–${fmt.ratio(p.range[1])})`;

export interface EndToEndPairs {
  jobs: Pairing;
  requests: Pairing;
  capacity: Pairing;
  ceilingRequests?: Pairing;
  ceilingCapacity?: Pairing;
}

export function endToEndPairs(f: Figures): EndToEndPairs | undefined {
  const { project, naive, ceiling } = f;
  if (!project?.length || !naive?.length) return undefined;
  const pairs = <B>(other: B[], ratio: (p: ProjectRun, b: B) => number) =>
    medianPair(project.slice(0, other.length).map((p, i) => ratio(p, other[i] as B)));
  // Older results have no capacity units: their ratio is n/a.
  const units = (r: { capacityUnitsPerSec?: number }) => r.capacityUnitsPerSec ?? Number.NaN;
  return {
    jobs: pairs(naive, (p, n) => p.jobsPerSec / n.jobsPerSec),
    requests: pairs(naive, (p, n) => p.requestsPerSec / n.requestsPerSec),
    capacity: pairs(naive, (p, n) => units(p) / units(n)),
    ...(ceiling?.length
      ? {
          ceilingRequests: pairs(ceiling, (p, c) => p.requestsPerSec / c.requestsPerSec),
          ceilingCapacity: pairs(ceiling, (p, c) => units(p) / units(c)),
        }
      : {}),
  };
}
