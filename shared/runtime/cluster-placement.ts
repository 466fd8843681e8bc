// Where the queue's shards live on a Redis Cluster: each shard's slot (keys.ts) mapped to the master
// serving it now, read from CLUSTER SHARDS (CLUSTER SLOTS on servers before 7.0). Two shards on one
// master share its CPU, so a sharded queue scales only as far as its shards are spread: the
// services say so in their log, in /readyz's detail and as a metric; `djq stats` shows the map.
import { Cluster } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';
import type { QueueKeys } from '../lifecycle/keys.js';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';

export interface ShardPlacement {
  shard: number;
  slot: number;
  /** host:port of the master serving the slot (undefined: no master serves it now). */
  master: string | undefined;
}

export interface Placement {
  shards: ShardPlacement[];
  /** Masters that serve more than one shard, with those shards: empty when every shard has its own. */
  sharedMasters: { master: string; shards: number[] }[];
}

/** A master and the slot ranges it serves. */
export interface SlotOwner {
  master: string;
  ranges: [number, number][];
}

type Reply = string | number | Buffer | null | Reply[];

const text = (value: Reply | undefined) => (Buffer.isBuffer(value) ? value.toString() : String(value));

/** A RESP2 flat [name, value, name, value, …] list as a map. */
function fields(list: Reply | undefined): Map<string, Reply> {
  const out = new Map<string, Reply>();
  if (!Array.isArray(list)) return out;
  for (let i = 0; i + 1 < list.length; i += 2) out.set(text(list[i]), list[i + 1] as Reply);
  return out;
}

/** CLUSTER SHARDS: [[ 'slots', [from, to, …], 'nodes', [[ 'id', …, 'port', p, 'ip', …, 'role', 'master', …]] ], …] */
export function parseClusterShards(reply: Reply): SlotOwner[] {
  const owners: SlotOwner[] = [];
  for (const shard of Array.isArray(reply) ? reply : []) {
    const f = fields(shard);
    const slots = (f.get('slots') as Reply[] | undefined) ?? [];
    const ranges: [number, number][] = [];
    for (let i = 0; i + 1 < slots.length; i += 2) ranges.push([Number(slots[i]), Number(slots[i + 1])]);
    const nodes = ((f.get('nodes') as Reply[] | undefined) ?? []).map(fields);
    const master = nodes.find((n) => text(n.get('role')) === 'master' && text(n.get('health')) !== 'fail');
    if (!master || ranges.length === 0) continue;
    const host = text(master.get('endpoint') ?? master.get('ip'));
    const port = master.get('port') ?? master.get('tls-port');
    owners.push({ master: `${host === '?' ? text(master.get('ip')) : host}:${text(port)}`, ranges });
  }
  return owners;
}

/** CLUSTER SLOTS: [[from, to, [ip, port, id], replicas…], …] */
export function parseClusterSlots(reply: Reply): SlotOwner[] {
  const byMaster = new Map<string, SlotOwner>();
  for (const entry of Array.isArray(reply) ? reply : []) {
    if (!Array.isArray(entry)) continue;
    const node = entry[2];
    if (!Array.isArray(node)) continue;
    const master = `${text(node[0])}:${text(node[1])}`;
    const owner = byMaster.get(master) ?? { master, ranges: [] };
    owner.ranges.push([Number(entry[0]), Number(entry[1])]);
    byMaster.set(master, owner);
  }
  return [...byMaster.values()];
}

/** Which master serves each shard's slot, and which masters serve several shards. */
export function placeShards(keys: Pick<QueueKeys, 'shard' | 'slot'>[], owners: SlotOwner[]): Placement {
  const shards = keys.map(({ shard, slot }) => ({
    shard,
    slot,
    master: owners.find((o) => o.ranges.some(([from, to]) => slot >= from && slot <= to))?.master,
  }));
  const byMaster = new Map<string, number[]>();
  for (const s of shards) if (s.master) byMaster.set(s.master, [...(byMaster.get(s.master) ?? []), s.shard]);
  const sharedMasters = [...byMaster]
    .filter(([, list]) => list.length > 1)
    .map(([master, list]) => ({ master, shards: list }));
  return { shards, sharedMasters };
}

/** Reads the cluster's slot map now; resolves undefined on a single Redis (nothing to place). */
export async function readPlacement(redis: RedisConnection, keys: QueueKeys[]): Promise<Placement | undefined> {
  if (!(redis instanceof Cluster)) return undefined;
  let owners: SlotOwner[];
  try {
    owners = parseClusterShards((await redis.call('CLUSTER', 'SHARDS')) as Reply);
  } catch (error) {
    // Redis before 7.0 has no CLUSTER SHARDS.
    if (!/unknown subcommand|unknown command/i.test((error as Error).message)) throw error;
    owners = parseClusterSlots((await redis.call('CLUSTER', 'SLOTS')) as Reply);
  }
  return placeShards(keys, owners);
}

/** One sentence for the log and /readyz when shards share a master (undefined when none do). */
export function describeSharing(placement: Placement | undefined): string | undefined {
  if (!placement || placement.sharedMasters.length === 0) return undefined;
  const list = placement.sharedMasters.map((m) => `shards ${m.shards.join(', ')} on ${m.master}`).join('; ');
  return `${list}: these shards share one master's CPU, so they do not scale apart. Spread them (CLUSTER SETSLOT / redis-cli --cluster reshard the slots in the detail to distinct masters) or set QUEUE_SHARDS to the number of masters.`;
}

/**
 * Watches the placement: read at start and every `intervalMs` (a failover or a reshard moves
 * slots), a warning logged when it turns shared, and two gauges for Prometheus.
 */
export class PlacementWatch {
  private last: Placement | undefined;
  private lastWarning: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly sharing: Gauge | undefined;
  private readonly masterInfo: Gauge<'shard' | 'master'> | undefined;

  constructor(
    private readonly deps: {
      redis: RedisConnection;
      keys: QueueKeys[];
      logger: Logger;
      registry?: Registry;
      /** @default 60_000 */
      intervalMs?: number;
    },
  ) {
    const registers = deps.registry ? [deps.registry] : [];
    if (deps.redis instanceof Cluster) {
      this.sharing = new Gauge({
        name: 'djq_shards_sharing_master',
        help: 'Queue shards whose Redis Cluster master also serves another shard of this queue (0: each shard on its own master)',
        registers,
      });
      this.masterInfo = new Gauge({
        name: 'djq_shard_master_info',
        help: 'The Redis Cluster master serving each queue shard (value 1)',
        labelNames: ['shard', 'master'] as const,
        registers,
      });
    }
  }

  /** Reads once now (errors logged, not thrown), then keeps watching. */
  async start(): Promise<Placement | undefined> {
    await this.refresh();
    if (this.deps.redis instanceof Cluster) {
      this.timer = setInterval(() => void this.refresh(), this.deps.intervalMs ?? 60_000);
      this.timer.unref();
    }
    return this.last;
  }

  async refresh(): Promise<void> {
    try {
      this.last = await readPlacement(this.deps.redis, this.deps.keys);
    } catch (error) {
      this.deps.logger.debug({ err: (error as Error).message }, 'could not read the cluster slot map');
      return;
    }
    if (!this.last) return;
    this.sharing?.set(this.last.sharedMasters.reduce((n, m) => n + m.shards.length, 0));
    this.masterInfo?.reset();
    for (const s of this.last.shards) this.masterInfo?.set({ shard: String(s.shard), master: s.master ?? 'none' }, 1);
    const warning = describeSharing(this.last);
    if (warning && warning !== this.lastWarning) {
      this.deps.logger.warn({ placement: this.last.shards, sharedMasters: this.last.sharedMasters }, warning);
    }
    this.lastWarning = warning;
  }

  /** What /readyz adds to its detail: each shard's master, and the warning when they share. */
  detail(): Record<string, unknown> | undefined {
    if (!this.last) return undefined;
    return {
      shards: this.last.shards,
      ...(this.lastWarning ? { warning: this.lastWarning } : {}),
    };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
