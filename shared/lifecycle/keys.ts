// Every Redis name of one logical queue, derived in one place (as BullMQ's QueueKeys does): the
// operations queue, its dead-letter queue, the ledger streams, redrive intents and the per-job
// transition locks, for each shard. Nothing else concatenates key strings.
//
// On one Redis with one shard the names are the plain `<QUEUE_PREFIX>:<QUEUE_NAME>…`. On a Redis
// Cluster, or with QUEUE_SHARDS > 1, every shard's prefix carries a hash tag of its own,
// `<QUEUE_PREFIX>:{<tag>}`, so all keys of a shard (BullMQ's Lua scripts touch many at once, and so
// do ours) live in one slot. Each shard's tag is chosen by its slot (see shardTag), so the N shards
// land on N distinct masters of a cluster whose slots are split evenly over N masters.
import { keySlot } from './key-slot.js';

/** What the names depend on (a structural subset of Config, so config.ts can check them). */
export interface KeySettings {
  QUEUE_PREFIX: string;
  QUEUE_NAME: string;
  /** @default 1 */
  QUEUE_SHARDS?: number;
  /** Set: cluster mode (hash tags are required). */
  REDIS_CLUSTER_NODES?: unknown;
}

export type QueueKeys = ReturnType<typeof queueKeys>;

const shardCount = (settings: KeySettings) => settings.QUEUE_SHARDS ?? 1;

/** Redis Cluster's slot space. */
export const CLUSTER_SLOTS = 16384;

const tagCache = new Map<string, string>();

/**
 * The hash tag of shard `shard` of `shards`: the first of `<name>-<shard>`, `<name>-<shard>-1`,
 * `<name>-<shard>-2`, … whose slot lies within an eighth of a share of the centre of the shard's
 * Nth of the slot space. `redis-cli --cluster create` (and every managed service) splits the slots
 * evenly, master i serving the i-th Nth, so shard i lands on master i; aiming at the centre leaves
 * room for the rounding of the split and for a cluster of somewhat more masters. The plain
 * `<name>-<shard>` is kept when it already fits, so a layout that was right stays where it is.
 * Deterministic: every process, on every host, derives the same tags.
 */
export function shardTag(name: string, shard: number, shards: number): string {
  if (shards <= 1) return name;
  const cacheKey = `${name}\u0000${shard}\u0000${shards}`;
  const cached = tagCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const share = CLUSTER_SLOTS / shards;
  const centre = (shard + 0.5) * share;
  // Within ±share/8 of the centre: about one candidate in 4N fits (a few thousand tries at 1024 shards).
  const reach = Math.max(share / 8, 1);
  for (let i = 0; i < 10_000_000; i++) {
    const tag = i === 0 ? `${name}-${shard}` : `${name}-${shard}-${i}`;
    if (Math.abs(keySlot(`{${tag}}`) - centre) <= reach) {
      tagCache.set(cacheKey, tag);
      return tag;
    }
  }
  throw new Error(`no hash tag found for shard ${shard} of ${shards}`);
}

/** The slot range [from, to] a shard's tag aims at: its Nth of the slot space. */
export function shardSlotShare(shard: number, shards: number): [number, number] {
  const share = CLUSTER_SLOTS / shards;
  return [Math.ceil(shard * share), Math.ceil((shard + 1) * share) - 1];
}

/** Whether the names need hash tags: in cluster mode, and whenever the queue is sharded. */
export function hashTagged(settings: KeySettings): boolean {
  return settings.REDIS_CLUSTER_NODES !== undefined || shardCount(settings) > 1;
}

/** A prefix with braces is the user's own hash tag: used as it is (and checked by keyLayoutProblems). */
const hasOwnTag = (prefix: string) => prefix.includes('{') || prefix.includes('}');

/** The BullMQ prefix of one shard. */
export function shardPrefix(settings: KeySettings, shard = 0): string {
  const prefix = settings.QUEUE_PREFIX;
  if (!hashTagged(settings) || hasOwnTag(prefix)) return prefix;
  return `${prefix}:{${shardTag(settings.QUEUE_NAME, shard, shardCount(settings))}}`;
}

export function queueKeys(settings: KeySettings, shard = 0) {
  const prefix = shardPrefix(settings, shard);
  const operations = settings.QUEUE_NAME;
  const base = `${prefix}:${operations}`;
  return {
    shard,
    prefix,
    /** The cluster slot every key of this shard hashes to. */
    slot: keySlot(`${prefix}:x`),
    /** BullMQ queue names (BullMQ adds the prefix itself). */
    operations,
    deadLetter: `${operations}-dlq`,
    ledgerEnqueued: `${base}:ledger:enqueued`,
    ledgerOutcomes: `${base}:ledger:outcomes`,
    /** The id of the newest enqueued record whose addBulk is known to have succeeded. */
    ledgerCommitted: `${base}:ledger:committed`,
    /** jobId → instance timestamp of a redrive in progress (a write-ahead record; see JobLifecycle.redrive). */
    redriveIntents: `${base}:redrives`,
    /** Job history entries DynamoDB has not taken yet (see history-spill.ts). */
    historySpill: `${base}:history:spill`,
    /** The token of the one worker that sweeps this shard's failed set (worker/sweep-lease.ts). */
    sweepLease: `${base}:dlq:sweep-lease`,
    /** A pub/sub channel, not a key: "new work", which wakes this shard's standing-by workers (wake-signal.ts). */
    wakeChannel: `${base}:wake`,
    /** The epoch of this shard's Redis data, also kept in DynamoDB: a Redis without it lost its data. */
    epoch: `${base}:epoch`,
    /** The Redis server (run_id:replid) this shard's data was last reconciled on (redis-server.ts). */
    serverReconciled: `${base}:epoch:server`,
    /** Written by a recovery as it begins; only while it is still there does the recovery restore the epoch. */
    recoveryMark: (token: string) => `${base}:epoch:recovery:${token}`,
    /** The fleet's flow control: the shared job rate and the last seconds' tallies (see flow-control.ts). */
    flow: `${base}:flow`,
    /** The operator's bulk DLQ actions (dlq-actions.ts), shard 0's: a sorted set of action ids by creation time. */
    dlqActions: `${base}:dlq:actions`,
    /** One bulk DLQ action's plan and status (a hash). */
    dlqAction: (actionId: string) => `${base}:dlq:action:${actionId}`,
    /** One bulk DLQ action's progress: jobId → what its run did to the job. */
    dlqActionProgress: (actionId: string) => `${base}:dlq:action:${actionId}:progress`,
    /** Held by the one process running a bulk DLQ action (advisory: see dlq-actions.ts). */
    dlqActionLease: (actionId: string) => `${base}:dlq:action:${actionId}:lease`,
    /** One hash per minute (epoch minute) of the charts' counts BullMQ does not keep (see minute-series.ts). */
    minuteSeries: (minute: number) => `${base}:series:${minute}`,
    /** BullMQ's queue metadata, whose max/duration fields are the queue's global rate limit. */
    bullMeta: `${base}:meta`,
    /** BullMQ's rate-limiter window counter (jobs started in the current window). */
    bullLimiter: `${base}:limiter`,
    /** Held while one of our transitions (move, redrive, purge, recover) changes this job id. */
    transitionLock: (jobId: string) => `${base}:transition:${jobId}`,
    /** BullMQ's own lock of an active job of the operations queue (holds the worker's token). */
    activeJobLock: (jobId: string) => `${base}:${jobId}:lock`,
    /** SCAN patterns: every key of this queue family (cleanup), and the dead-letter queue's keys. */
    everyKeyPattern: `${prefix}:*`,
    deadLetterKeyPattern: `${prefix}:${operations}-dlq:*`,
  };
}

/** Every shard's keys, shard 0 first. */
export function allShardKeys(settings: KeySettings): QueueKeys[] {
  return Array.from({ length: shardCount(settings) }, (_, shard) => queueKeys(settings, shard));
}

/** A sample of every kind of key one shard has, BullMQ's included (they are `<prefix>:<queue>:<suffix>`). */
function sampleKeys(keys: QueueKeys): string[] {
  const bull = (queue: string, suffix: string) => `${keys.prefix}:${queue}:${suffix}`;
  return [
    ...['wait', 'active', 'id', 'events', 'meta', 'stalled-check', 'a-job-id'].map((s) => bull(keys.operations, s)),
    ...['wait', 'id', 'a-job-id'].map((s) => bull(keys.deadLetter, s)),
    keys.ledgerEnqueued,
    keys.ledgerOutcomes,
    keys.ledgerCommitted,
    keys.redriveIntents,
    keys.sweepLease,
    keys.epoch,
    keys.recoveryMark('a-token'),
    keys.serverReconciled,
    keys.historySpill,
    keys.flow,
    keys.bullMeta,
    keys.bullLimiter,
    keys.minuteSeries(29_000_000),
    keys.dlqActions,
    keys.dlqAction('an-action-id'),
    keys.dlqActionProgress('an-action-id'),
    keys.dlqActionLease('an-action-id'),
    keys.transitionLock('a-job-id'),
    keys.activeJobLock('a-job-id'),
  ];
}

/**
 * What is wrong with the key layout for a cluster, naming the fix (empty when nothing is): every
 * key of a shard must hash to one slot (BullMQ's scripts and our ledger script are multi-key), and
 * two shards must not share their keys.
 */
export function keyLayoutProblems(settings: KeySettings): string[] {
  if (!hashTagged(settings)) return [];
  const problems: string[] = [];
  const shards = allShardKeys(settings);
  const fix =
    'Remove the braces from QUEUE_PREFIX (each shard then gets a hash tag of its own, {<QUEUE_NAME>-<shard>…}), or put exactly one non-empty {tag} in it with QUEUE_SHARDS=1.';
  for (const keys of shards) {
    const slots = new Map<number, string>();
    for (const key of sampleKeys(keys)) if (!slots.has(keySlot(key))) slots.set(keySlot(key), key);
    if (slots.size > 1) {
      const examples = [...slots].slice(0, 2).map(([slot, key]) => `${key} in slot ${slot}`);
      problems.push(
        `QUEUE_PREFIX=${JSON.stringify(settings.QUEUE_PREFIX)} spreads the keys of shard ${keys.shard} over ${slots.size} cluster slots (e.g. ${examples.join(', ')}); every key of a queue must share one hash tag. ${fix}`,
      );
      break;
    }
  }
  if (shards.length > 1 && new Set(shards.map((k) => k.prefix)).size < shards.length) {
    problems.push(
      `QUEUE_PREFIX=${JSON.stringify(settings.QUEUE_PREFIX)} has a hash tag of its own, so all ${shards.length} shards would share one slot and the same keys. ${fix}`,
    );
  }
  return problems;
}
