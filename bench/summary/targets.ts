// The figures the bench is held to (docs/results.md "Performance"), and the headline JSON: the top level of
// bench/results/latest.json, one number per figure with the targets and the details beside them.
import { round } from '../support.js';
import { EXTRA_WRITE_UNITS_ALLOWED, extraWritesMet } from './before-outcomes.js';
import { type EndToEndPairs, type Figures, medianOf as med } from './figures.js';

/** Each target as written in the table, and whether this run met it (undefined: not measured). */
export function targetsOf(f: Figures, e2e: EndToEndPairs | undefined) {
  const queueOverheadRatio = f.queueOverhead?.ratio.ratio;
  const backendRequestsRatio = e2e?.requests.ratio;
  const latencyMs = f.latency ? { p50: f.latency.p50, p95: f.latency.p95, p99: f.latency.p99 } : undefined;
  return {
    queueOverheadRatio: {
      target: '>= 0.8',
      met: queueOverheadRatio === undefined ? undefined : queueOverheadRatio >= 0.8,
    },
    backendRequestsRatio: {
      target: '>= 0.9',
      met: backendRequestsRatio === undefined ? undefined : backendRequestsRatio >= 0.9,
    },
    historyRequestsPerJob: {
      target: '<= 0.1',
      met: f.project?.length ? (med(f.project, (r) => r.historyRequestsPerJob) as number) <= 0.1 : undefined,
    },
    extraWriteUnitsPerJob: { target: `<= +${EXTRA_WRITE_UNITS_ALLOWED} (issue 19)`, met: extraWritesMet(f.project) },
    scalingEfficiency4: { target: '>= 0.9', met: f.scaling ? f.scaling.efficiency4 >= 0.9 : undefined },
    latencyP99Ms: { target: '<= 25', met: latencyMs ? latencyMs.p99 <= 25 : undefined },
    ownLatencyP99Ms: { target: '<= 10', met: f.latency?.ownMs ? f.latency.ownMs.p99 <= 10 : undefined },
    workerRssGrowth: { target: '<= 1.2', met: f.memory ? f.memory.growth <= 1.2 : undefined },
    historyCostRatio: { target: '<= 1.2', met: f.history ? f.history.costRatio <= 1.2 : undefined },
    hotAggregateShare: {
      target: '>= 0.8, 0 dead-lettered',
      met: f.hotAggregate
        ? f.hotAggregate.share >= 0.8 &&
          f.hotAggregate.contended.deadLettered === 0 &&
          f.hotAggregate.contended.verified
        : undefined,
    },
    searchP95Ms: {
      target: '<= 100 / 100 / 300 / 300 ms (job id / user / filtered page of 50 / page of 50 by error)',
      met: f.search
        ? [
            f.search.byJobId,
            f.search.byUser,
            f.search.filteredPage,
            ...(f.search.byError ? [f.search.byError] : []),
          ].every((l) => l.p95Ms <= l.targetMs)
        : undefined,
    },
    capacityGoodputShare: {
      target: '>= 0.85, <= 10% throttled, 0 dead-lettered by throttling (flow control, 4 workers)',
      met: f.capacity
        ? (() => {
            const flow = f.capacity.modes[0];
            return flow
              ? flow.goodputShare >= 0.85 && flow.throttledShare <= 0.1 && flow.deadLetteredByThrottling === 0
              : false;
          })()
        : undefined,
    },
  };
}

export type Targets = ReturnType<typeof targetsOf>;

/**
 * A ratio is the median of the ratios within back-to-back rounds (so figures and ratio agree);
 * counts per job are medians over rounds.
 */
export function headline(f: Figures, e2e: EndToEndPairs | undefined, targets: Targets) {
  const latencyMs = f.latency ? { p50: f.latency.p50, p95: f.latency.p95, p99: f.latency.p99 } : undefined;
  return {
    queueOverheadRatio: maybe(f.queueOverhead?.ratio.ratio, 3),
    queueOverheadRatioToFastest: maybe(f.queueOverhead?.ratioToFastest.ratio, 3),
    backendRequestsRatio: maybe(e2e?.requests.ratio, 3),
    endToEndJobsRatio: maybe(e2e?.jobs.ratio, 3),
    backendCapacityRatio: maybe(e2e?.capacity.ratio, 3),
    // Every DynamoDB call per job: the producer's acceptance, the worker, the decision, history.
    requestsPerJob: maybe(
      med(f.project, (r) => r.perJob?.requests ?? Number.NaN),
      3,
    ),
    readUnitsPerJob: maybe(
      med(f.project, (r) => r.perJob?.readUnits ?? Number.NaN),
      3,
    ),
    writeUnitsPerJob: maybe(
      med(f.project, (r) => r.perJob?.writeUnits ?? Number.NaN),
      3,
    ),
    indexWriteUnitsPerJob: maybe(
      med(f.project, (r) => r.perJob?.indexWriteUnits ?? Number.NaN),
      3,
    ),
    workerRequestsPerJob: maybe(
      med(f.project, (r) => r.requestsPerJob),
      3,
    ),
    historyRequestsPerJob: maybe(
      med(f.project, (r) => r.historyRequestsPerJob),
      3,
    ),
    backendCeilingShare: maybe(e2e?.ceilingRequests?.ratio, 3),
    backendCeilingCapacityShare: maybe(e2e?.ceilingCapacity?.ratio, 3),
    scalingEfficiency4: maybe(f.scaling?.efficiency4, 3),
    latencyMs: latencyMs ?? null,
    workerRssGrowth: maybe(f.memory?.growth, 3),
    redisUsedMemoryMB: f.memory?.redisUsedMemoryMB ?? null,
    producerBulkSpeedup: maybe(f.producer ? f.producer.addBulkPerSec / f.producer.addPerSec : undefined, 2),
    tracingRatio100: maybe(f.tracing?.ratio100.median, 3),
    tracingRatio1: maybe(f.tracing?.ratio1.median, 3),
    tracingCpuRatio100: maybe(f.tracing?.cpuRatio100.median, 3),
    tracingCpuRatio1: maybe(f.tracing?.cpuRatio1.median, 3),
    historyCostRatio: maybe(f.history?.costRatio, 3),
    redisCommandsPerJob: f.redisCommands?.serverCommandsPerJob ?? null,
    redisRoundTripsPerJob: f.redisCommands?.roundTripsPerJob ?? null,
    workerCpuMicrosPerJob: f.workerProfile?.deployed.processCpuMicrosPerJob ?? null,
    hotAggregateShare: maybe(f.hotAggregate?.share, 3),
    hotAggregateDeadLettered: f.hotAggregate ? f.hotAggregate.contended.deadLettered : null,
    shardsProducerRatio: maybe(f.shards?.producerRatio, 2),
    shardsWorkerRatio: maybe(f.shards?.workerRatio, 2),
    capacityGoodputShare: maybe(f.capacity?.modes[0]?.goodputShare, 3),
    capacityThrottledShare: maybe(f.capacity?.modes[0]?.throttledShare, 3),
    redisCostMicrosRatio: maybe(f.redisCost?.microsRatio.rate.ratio, 3),
    redisCostCpuRatio: maybe(f.redisCost?.cpuRatio.rate.ratio, 3),
    redisCostExtraRoundTrips: maybe(f.redisCost?.extraRoundTrips.rate.ratio, 3),
    idleFleetRatio: maybe(f.idleFleet?.ratio.ratio, 3),
    searchP95Ms: f.search
      ? {
          byJobId: f.search.byJobId.p95Ms,
          byUser: f.search.byUser.p95Ms,
          filteredPage: f.search.filteredPage.p95Ms,
          ...(f.search.byError ? { byError: f.search.byError.p95Ms } : {}),
        }
      : null,
    searchIndexWriteUnitsPerJob: f.search?.indexWriteUnitsPerJob ?? null,
    nodeVersionRatio: f.nodeVersions && !('skipped' in f.nodeVersions) ? round(f.nodeVersions.ratio.ratio, 3) : null,
    targets,
    details: f,
  };
}

function maybe(value: number | undefined, digits: number): number | null {
  return value === undefined ? null : round(value, digits);
}
