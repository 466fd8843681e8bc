// Cluster key layout: the slot function against the Redis Cluster spec's values, the names each
// shard gets, the start-up check of a prefix, the cluster config forms, and shard routing.
import { describe, expect, it } from 'vitest';
import { crc16, hashTagOf, keySlot } from '../../shared/lifecycle/key-slot.js';
import { allShardKeys, keyLayoutProblems, queueKeys, shardSlotShare, shardTag } from '../../shared/lifecycle/keys.js';
import {
  parseClusterShards,
  parseClusterSlots,
  placeShards,
  type SlotOwner,
} from '../../shared/runtime/cluster-placement.js';
import { ConfigError, loadConfig, parseClusterNodes } from '../../shared/runtime/config.js';
import { connectRedis, describeRedis, waitForRedis } from '../../shared/runtime/redis.js';
import { shardFor } from '../../shared/wiring.js';

describe('key slots', () => {
  it('match the cluster spec: CRC16/XMODEM, hash tags', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(hashTagOf('foo{}{bar}')).toBe('foo{}{bar}');
    expect(hashTagOf('foo{{bar}}zap')).toBe('{bar');
    expect(hashTagOf('foo{bar}{zap}')).toBe('bar');
  });
});

describe('queue keys', () => {
  const base = { QUEUE_PREFIX: 'djq', QUEUE_NAME: 'ops' };

  it('are the plain names on one Redis with one shard', () => {
    const keys = queueKeys(base);
    expect(keys.prefix).toBe('djq');
    expect(keys.ledgerOutcomes).toBe('djq:ops:ledger:outcomes');
    expect(keys.transitionLock('j1')).toBe('djq:ops:transition:j1');
  });

  it('carry one hash tag per shard, each shard in one slot, shards in different slots', () => {
    const shards = allShardKeys({ ...base, QUEUE_SHARDS: 3 });
    expect(shards.map((k) => k.prefix)).toEqual(['djq:{ops-0-11}', 'djq:{ops-1-50}', 'djq:{ops-2-10}']);
    for (const keys of shards) {
      const slots = new Set(
        [
          keys.ledgerEnqueued,
          keys.redriveIntents,
          keys.activeJobLock('x'),
          `${keys.prefix}:${keys.deadLetter}:wait`,
        ].map(keySlot),
      );
      expect(slots.size).toBe(1);
    }
    expect(new Set(shards.map((k) => keySlot(k.ledgerOutcomes))).size).toBe(3);
    expect(keyLayoutProblems({ ...base, QUEUE_SHARDS: 3 })).toEqual([]);
  });

  it('in cluster mode with one shard, tag the queue name', () => {
    expect(queueKeys({ ...base, REDIS_CLUSTER_NODES: [] }).prefix).toBe('djq:{ops}');
  });

  it('reject a prefix whose braces would spread a shard over slots, naming the fix', () => {
    const problems = keyLayoutProblems({ ...base, QUEUE_PREFIX: 'djq{}', REDIS_CLUSTER_NODES: [] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/spreads the keys of shard 0 over \d+ cluster slots/);
    expect(problems[0]).toMatch(/Remove the braces from QUEUE_PREFIX/);
  });

  it('reject a prefix with its own tag when there are several shards', () => {
    const problems = keyLayoutProblems({ ...base, QUEUE_PREFIX: '{djq}', QUEUE_SHARDS: 2 });
    expect(problems.join('\n')).toMatch(/all 2 shards would share one slot/);
    expect(keyLayoutProblems({ ...base, QUEUE_PREFIX: '{djq}', REDIS_CLUSTER_NODES: [] })).toEqual([]);
  });
});

describe('shard tags', () => {
  /** The masters `redis-cli --cluster create` makes of N nodes (its own rounding, cluster.c). */
  function evenSplit(masters: number): [number, number][] {
    const per = 16384 / masters;
    const ranges: [number, number][] = [];
    let first = 0;
    let cursor = 0;
    for (let i = 0; i < masters; i++) {
      const last = i === masters - 1 ? 16383 : Math.round(cursor + per - 1);
      ranges.push([first, last]);
      first = last + 1;
      cursor += per;
    }
    return ranges;
  }

  it('put N shards on N distinct masters of an evenly split cluster, for N from 2 to 16', () => {
    for (const name of ['dynamo-ops', 'ops', 'q']) {
      for (let n = 2; n <= 16; n++) {
        const owners = evenSplit(n).map((range, i) => ({ master: `m${i}`, ranges: [range] }));
        const placement = placeShards(allShardKeys({ QUEUE_PREFIX: 'djq', QUEUE_NAME: name, QUEUE_SHARDS: n }), owners);
        expect(placement.shards.map((s) => s.master)).toEqual(owners.map((o) => o.master));
        expect(placement.sharedMasters).toEqual([]);
      }
    }
  });

  it('are deterministic, fall in their share of the slots, and keep the plain tag when it fits', () => {
    expect(shardTag('dynamo-ops', 1, 3)).toBe(shardTag('dynamo-ops', 1, 3));
    expect(['dynamo-ops-0-40', 'dynamo-ops-1-16', 'dynamo-ops-2-2']).toEqual(
      [0, 1, 2].map((i) => shardTag('dynamo-ops', i, 3)),
    );
    for (let shard = 0; shard < 5; shard++) {
      const [from, to] = shardSlotShare(shard, 5);
      const slot = keySlot(`{${shardTag('jobs', shard, 5)}}`);
      expect(slot).toBeGreaterThanOrEqual(from);
      expect(slot).toBeLessThanOrEqual(to);
    }
    // 'dynamo-ops-1' (slot 11808) already lies near the centre of the second half.
    expect(shardTag('dynamo-ops', 1, 2)).toBe('dynamo-ops-1');
    expect(shardTag('dynamo-ops', 0, 1)).toBe('dynamo-ops');
  });

  it('the old plain tags {dynamo-ops-0..2} put 3 shards on 2 of 3 masters (what the choice fixes)', () => {
    const owners = evenSplit(3).map((range, i) => ({ master: `m${i}`, ranges: [range] }));
    const old = [0, 1, 2].map((shard) => ({ shard, slot: keySlot(`{dynamo-ops-${shard}}`) }));
    expect(placeShards(old, owners).sharedMasters).toEqual([{ master: 'm2', shards: [0, 1] }]);
  });

  it('parse CLUSTER SHARDS and CLUSTER SLOTS replies to the same owners', () => {
    const node = (port: number, role: string) => [
      'id',
      `n${port}`,
      'port',
      port,
      'ip',
      '127.0.0.1',
      'endpoint',
      '127.0.0.1',
      'role',
      role,
      'health',
      'online',
    ];
    const shards = [
      ['slots', [0, 5460], 'nodes', [node(7001, 'replica'), node(7000, 'master')]],
      ['slots', [5461, 10922, 12000, 12001], 'nodes', [node(7002, 'master')]],
    ];
    const slots = [
      [0, 5460, ['127.0.0.1', 7000, 'n7000'], ['127.0.0.1', 7001, 'n7001']],
      [5461, 10922, ['127.0.0.1', 7002, 'n7002']],
      [12000, 12001, ['127.0.0.1', 7002, 'n7002']],
    ];
    const expected: SlotOwner[] = [
      { master: '127.0.0.1:7000', ranges: [[0, 5460]] },
      {
        master: '127.0.0.1:7002',
        ranges: [
          [5461, 10922],
          [12000, 12001],
        ],
      },
    ];
    expect(parseClusterShards(shards)).toEqual(expected);
    expect(parseClusterSlots(slots)).toEqual(expected);
    expect(placeShards([{ shard: 0, slot: 13000 }], expected).shards[0]?.master).toBeUndefined();
  });
});

describe('sentinel config', () => {
  it('parses the sentinels, defaults the master name, and refuses a cluster and sentinels at once', () => {
    const config = loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379,s2:26380' });
    expect(config.REDIS_SENTINELS).toEqual([
      { host: '10.0.0.1', port: 26379 },
      { host: 's2', port: 26380 },
    ]);
    expect(config.REDIS_SENTINEL_NAME).toBe('mymaster');
    expect(() => loadConfig({ REDIS_SENTINELS: 's1' })).toThrow(/REDIS_SENTINELS="s1": "s1" is not host:port/);
    expect(() => loadConfig({ REDIS_SENTINELS: 's1:26379', REDIS_CLUSTER_NODES: 'n1:7000' })).toThrow(
      /REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set/,
    );
  });
});

describe('sentinel connection', () => {
  it('names the sentinels when the master cannot be found, never the password', async () => {
    const config = loadConfig({ REDIS_URL: 'redis://:s3cret@127.0.0.1', REDIS_SENTINELS: '127.0.0.1:1' });
    const redis = connectRedis(config);
    redis.on('error', () => undefined);
    try {
      const error = await waitForRedis(redis, config.REDIS_URL, 500).catch((e: Error) => e);
      expect(String(error)).toMatch(/Redis master "mymaster" of sentinels 127\.0\.0\.1:1 \(REDIS_SENTINELS/);
      expect(String(error)).not.toContain('s3cret');
      expect(describeRedis(config)).toBe('master mymaster of sentinels 127.0.0.1:1');
    } finally {
      redis.disconnect();
    }
  });
});

describe('cluster config', () => {
  it('parses seed nodes, IPv6 included', () => {
    expect(parseClusterNodes('10.0.0.1:7000, redis-2:7001,[::1]:7002')).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-2', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(() => parseClusterNodes('10.0.0.1')).toThrow(/not host:port/);
  });

  it('fails at load with one clear error for a bad layout, a bad node list or a shard out of range', () => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: 'djq{' })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: 'nope' })).toThrow(
      /REDIS_CLUSTER_NODES="nope": "nope" is not host:port/,
    );
    expect(() => loadConfig({ QUEUE_SHARDS: '2', WORKER_SHARDS: '1,2' })).toThrow(/shard\(s\) 2 do not exist/);
    expect(loadConfig({ QUEUE_SHARDS: '3', WORKER_SHARDS: '2, 0' }).WORKER_SHARDS).toEqual([0, 2]);
  });
});

describe('shard routing', () => {
  it('is stable and spreads keys over every shard', () => {
    expect(shardFor('user-a', 1)).toBe(0);
    expect(shardFor('user-a', 3)).toBe(shardFor('user-a', 3));
    const hit = new Set(Array.from({ length: 100 }, (_, i) => shardFor(`user-${i}`, 3)));
    expect([...hit].sort()).toEqual([0, 1, 2]);
  });
});
