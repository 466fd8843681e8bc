// The fleet's flow state for the board: refreshed in the background (a page load never waits on
// Redis for it) and shown in the operations queue's description on Bull Board, which reads the
// description on every refresh of its queue list.
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { describeFleetFlow, type FleetFlowView } from '../shared/flow/fleet-rate.js';
import { withDeadline } from '../shared/runtime/deadline.js';

const REFRESH_MS = 2000;

export class FlowStatus {
  /** Per shard, the last state read; undefined until the first read answers. */
  private readonly states = new Map<number, FleetFlowView>();
  private readonly timer: NodeJS.Timeout;

  /** `readers[i]` reads shard i's state (JobSystem.readFlow). */
  constructor(private readonly readers: readonly (() => Promise<FleetFlowView>)[]) {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  /** Every shard's last state read, shard order (for the API). */
  all(): (FleetFlowView | null)[] {
    return this.readers.map((_, shard) => this.states.get(shard) ?? null);
  }

  /** "Rate-limited by DynamoDB: …" while flow control limits the fleet; empty otherwise. */
  line(shard: number): string {
    const state = this.states.get(shard);
    if (!state || state.rate === null) return '';
    return `${state.heldBack ? 'RATE-LIMITED' : 'Rate limit'} by DynamoDB flow control: ${describeFleetFlow(state)}`;
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    const reads = this.readers.map(async (read, shard) => this.states.set(shard, await read()));
    // A Redis that does not answer leaves the last state shown; the next refresh tries again.
    await withDeadline(Promise.allSettled(reads), Date.now() + REFRESH_MS);
  }
}

/** Bull Board's adapter with the flow state after the queue's own description. */
export class FlowAwareAdapter extends BullMQAdapter {
  constructor(
    queue: ConstructorParameters<typeof BullMQAdapter>[0],
    options: ConstructorParameters<typeof BullMQAdapter>[1],
    private readonly flow: () => string,
  ) {
    super(queue, options);
  }

  override getDescription(): string {
    const flow = this.flow();
    return flow ? `${super.getDescription()}. ${flow}` : super.getDescription();
  }
}
