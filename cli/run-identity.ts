// One run, one identity: Redis and the table of two different runs (their epochs differ) must not
// be mixed by an operator's command — recover would re-enqueue one run's jobs into the other's
// Redis, replay would explain one run's projection with the other's pending work. Refused unless
// --force, with what to do.
import { describeEpoch } from '../shared/lifecycle/epoch.js';
import type { JobSystem } from '../shared/wiring.js';

export class MixedRunsError extends Error {
  override name = 'MixedRunsError';
}

export async function refuseMixedRuns(shards: readonly Pick<JobSystem, 'checkEpoch'>[], force: boolean): Promise<void> {
  if (force) return;
  for (const [shard, system] of shards.entries()) {
    const state = await system.checkEpoch();
    if (state.state === 'mismatch')
      throw new MixedRunsError(
        `shard ${shard}: ${describeEpoch(state)}. Nothing was changed; add --force to act anyway.`,
      );
  }
}
