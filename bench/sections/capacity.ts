// Section `capacity`: the same capacity-limited workload (chaos/scenarios/capacity.ts: a table
// budget of C units/s, demand about 2C) four ways with 4 workers: flow control (the defaults),
// flow control with the SDK's adaptive retries, no flow control (throttles use attempts, as
// before), and the SDK's `adaptive` retry mode alone; then the defaults with 1 and 8 workers, where goodput should stay near C instead of collapsing. Each run
// has its own Redis, dynalite and fixture (stacks of the chaos harness).
import { type CapacityFigures, type FlowMode, runCapacity } from '../../chaos/scenarios/capacity.js';
import { progress } from '../report.js';

export interface CapacitySection {
  capacity: number;
  jobs: number;
  /** Flow control, no flow control, SDK adaptive: 4 workers each. */
  modes: CapacityFigures[];
  /** Flow control with 1, 4 and 8 workers. */
  scaling: CapacityFigures[];
}

const run = (jobs: number, capacity: number, workers: number, mode: FlowMode) => {
  progress('capacity', `${mode}, ${workers} worker(s), ${jobs} jobs at ${capacity} units/s`);
  return runCapacity({ jobs, capacity, workers, mode }, (figures) => figures);
};

export async function capacitySection(options: { jobs: number; capacity: number }): Promise<CapacitySection> {
  const { jobs, capacity } = options;
  const modes: CapacityFigures[] = [];
  for (const mode of ['flow-control', 'flow-control-adaptive', 'no-flow-control', 'sdk-adaptive'] as const) {
    modes.push(await run(jobs, capacity, 4, mode));
  }
  const four = modes[0] as CapacityFigures;
  const scaling = [await run(jobs, capacity, 1, 'flow-control'), four, await run(jobs, capacity, 8, 'flow-control')];
  return { capacity, jobs, modes, scaling };
}
