// Prometheus metrics of one worker process. Counters, not only gauges: rates and totals by
// operation and outcome are what BullMQ's own gauge exporter cannot give.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DynamoCall } from '../shared/dynamo/instrumentation.js';
import type { JobLifecycle } from '../shared/lifecycle/job-lifecycle.js';
import { THROTTLING_ERRORS } from '../shared/runtime/errors.js';
import type { ElectedSweep } from './elected-sweep.js';
import type { FlowControl } from './flow-control.js';
import type { Standby } from './standby.js';

export type JobOutcome = 'completed' | 'retried' | 'dead-lettered' | 'failed-final' | 'put-back';

/** Every metric this worker exports, by name, with its help text: the catalogue /metrics serves. */
const HELP = {
  djq_jobs_total: 'Jobs by operation and outcome (completed, retried, failed-final, dead-lettered, put-back)',
  djq_job_duration_seconds: 'Time a job attempt spent in the processor',
  djq_dynamodb_call_duration_seconds: 'DynamoDB call latency by command (SDK retries included)',
  djq_dynamodb_consumed_capacity_units_total: 'Consumed capacity units reported by DynamoDB, by table',
  djq_dynamodb_throttles_total: 'DynamoDB calls that ended throttled after SDK retries',
  djq_dynamodb_throttled_requests_total:
    'DynamoDB requests answered with a throttling error, SDK retries included (the flow-control signal)',
  djq_jobs_put_back_total: 'Jobs put back without using an attempt, by cause (contended, throttled)',
  djq_dynamodb_errors_total: 'DynamoDB calls that ended in an error, by command and error name',
  djq_flow_rate_jobs_per_second: 'Fleet job rate flow control allows (0: no limit; DynamoDB has not throttled)',
  djq_flow_limited: '1 while flow control limits the fleet because DynamoDB throttled',
  djq_flow_fleet_capacity_units_per_second:
    "Capacity units the fleet's jobs consumed in the last full second (all workers)",
  djq_worker_watching: "1 while this worker holds the shard's sweep lease: it sweeps and never stands by",
  djq_worker_standing_by: '1 while this worker stands by: idle, it fetches no jobs until new work is signalled',
} as const;

type MetricName = keyof typeof HELP;

/** Histogram buckets, in seconds: a job attempt's, and a DynamoDB call's. */
const JOB_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CALL_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly jobs = this.counter('djq_jobs_total', ['op', 'outcome']);
  private readonly jobDuration = this.histogram('djq_job_duration_seconds', ['op'], JOB_SECONDS);
  private readonly dynamoLatency = this.histogram('djq_dynamodb_call_duration_seconds', ['command'], CALL_SECONDS);
  private readonly capacity = this.counter('djq_dynamodb_consumed_capacity_units_total', ['table']);
  private readonly throttles = this.counter('djq_dynamodb_throttles_total', ['command']);
  private readonly throttledRequests = this.counter('djq_dynamodb_throttled_requests_total', ['command']);
  private readonly putBacks = this.counter('djq_jobs_put_back_total', ['op', 'cause']);
  private readonly dynamoErrors = this.counter('djq_dynamodb_errors_total', ['command', 'error']);

  private readonly dynamoListeners = new Set<(call: DynamoCall) => void>();

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  job(op: string, outcome: JobOutcome, durationMs?: number): void {
    this.jobs.inc({ op, outcome });
    if (durationMs !== undefined) this.jobDuration.observe({ op }, durationMs / 1000);
  }

  /** Counts every transition of the lifecycle: the metrics never run through the job runner. */
  observe(lifecycle: JobLifecycle): () => void {
    return lifecycle.onTransition((t) => {
      if (t.type === 'completed') this.job(t.op, 'completed', t.durationMs);
      else if (t.type === 'attempt-failed') this.job(t.op, t.final ? 'failed-final' : 'retried', t.durationMs);
      else if (t.type === 'settled-completed') this.job(t.op, 'completed');
      else if (t.type === 'dead-lettered') this.job(t.op, 'dead-lettered');
      else if (t.type === 'put-back') {
        this.job(t.op, 'put-back');
        this.putBacks.inc({ op: t.op, cause: t.cause });
      }
    });
  }

  /** Per shard: the fleet's flow state as this worker last heard it, and whether it watches or stands by. */
  observeShards(shards: readonly { shard: number; flow: FlowControl; sweep: ElectedSweep; standby: Standby }[]): void {
    const shardGauge = (name: MetricName, value: (s: (typeof shards)[number]) => number) =>
      new Gauge({
        name,
        help: HELP[name],
        labelNames: ['shard'] as const,
        registers: [this.registry],
        collect() {
          for (const s of shards) this.set({ shard: String(s.shard) }, value(s));
        },
      });
    shardGauge('djq_flow_rate_jobs_per_second', ({ flow }) => flow.rate ?? 0);
    shardGauge('djq_flow_limited', ({ flow }) => (flow.rate === null ? 0 : 1));
    shardGauge('djq_flow_fleet_capacity_units_per_second', ({ flow }) => flow.fleetUnitsPerSecond);
    shardGauge('djq_worker_watching', ({ sweep }) => (sweep.holds ? 1 : 0));
    shardGauge('djq_worker_standing_by', ({ standby }) => (standby.standingBy ? 1 : 0));
  }

  private counter<L extends string>(name: MetricName, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help: HELP[name], labelNames, registers: [this.registry] });
  }

  private histogram<L extends string>(name: MetricName, labelNames: readonly L[], buckets: number[]): Histogram<L> {
    return new Histogram({ name, help: HELP[name], labelNames, buckets, registers: [this.registry] });
  }

  /** Also tells `listener` of every DynamoDB call (the console's minute series); returns the unsubscribe. */
  onDynamoCall(listener: (call: DynamoCall) => void): () => void {
    this.dynamoListeners.add(listener);
    return () => this.dynamoListeners.delete(listener);
  }

  dynamoCall = (call: DynamoCall): void => {
    for (const listener of this.dynamoListeners) listener(call);
    this.dynamoLatency.observe({ command: call.command }, call.durationMs / 1000);
    if (call.throttledRequests > 0) this.throttledRequests.inc({ command: call.command }, call.throttledRequests);
    if (call.capacityUnits > 0) this.capacity.inc({ table: call.table ?? 'unknown' }, call.capacityUnits);
    if (call.errorName) {
      this.dynamoErrors.inc({ command: call.command, error: call.errorName });
      if (THROTTLING_ERRORS.has(call.errorName)) this.throttles.inc({ command: call.command });
    }
  };
}
