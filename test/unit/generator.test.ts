import { describe, expect, it } from 'vitest';
import { OperationGenerator, pickWeighted, RecentIds } from '../../producer/generator.js';
import { payloadSchemas } from '../../shared/domain/jobs.js';
import { JOB_NAMES, parseOperationMix } from '../../shared/domain/operations.js';
import { parseJob } from '../../shared/domain/payload.js';

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A generator of `mix` on a seeded random source, so each run draws the same jobs. */
const seededGenerator = (mix: string, options: { batchSize: number; invalidRate: number; seed: number }) =>
  new OperationGenerator({
    mix: parseOperationMix(mix),
    batchSize: options.batchSize,
    invalidRate: options.invalidRate,
    random: seeded(options.seed),
  });

describe('operation mix', () => {
  it('picks by weight', () => {
    const mix = parseOperationMix('create=1,get=3');
    expect(pickWeighted(mix, 0)).toBe('create');
    expect(pickWeighted(mix, 0.24)).toBe('create');
    expect(pickWeighted(mix, 0.26)).toBe('get');
    expect(pickWeighted(mix, 0.999999)).toBe('get');
  });

  it('draws each operation in proportion to its weight', () => {
    const mix = parseOperationMix('create=30,get=25,update=20,query=10,delete=10,batch=5');
    const random = seeded(7);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      const key = pickWeighted(mix, random());
      counts[key] = (counts[key] ?? 0) + 1;
    }
    expect((counts.create ?? 0) / 20_000).toBeCloseTo(0.3, 1);
    expect((counts.batch ?? 0) / 20_000).toBeCloseTo(0.05, 1);
  });
});

describe('OperationGenerator', () => {
  it('produces payloads that pass their schemas, aimed at users it created', () => {
    const generator = seededGenerator('create=30,get=25,update=20,query=10,delete=10,batch=5', {
      batchSize: 4,
      invalidRate: 0,
      seed: 1,
    });
    const created = new Set<string>();
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const job = generator.next();
      seen.add(job.name);
      const parsed = parseJob(job.name, job.data);
      if (parsed.name === 'create-user') created.add(parsed.payload.user.id);
      if (parsed.name === 'batch-create-users') for (const u of parsed.payload.users) created.add(u.id);
      if (parsed.name === 'get-user' || parsed.name === 'update-user' || parsed.name === 'delete-user') {
        expect(created.has(parsed.payload.userId)).toBe(true);
      }
    }
    expect([...seen].sort()).toEqual([...JOB_NAMES].sort());
  });

  it('starts with creates when it knows no users yet', () => {
    const generator = new OperationGenerator({ mix: parseOperationMix('get=1'), batchSize: 1, invalidRate: 0 });
    expect(generator.next().name).toBe('create-user');
    expect(generator.next().name).toBe('get-user');
  });

  it('makes poison jobs at the invalid rate, each rejected by the worker', () => {
    const generator = seededGenerator('create=1', { batchSize: 1, invalidRate: 1, seed: 3 });
    for (let i = 0; i < 30; i++) {
      const job = generator.next();
      expect(() => parseJob(job.name, job.data)).toThrow(/invalid|unknown operation/);
    }
  });
});

describe('payload schemas', () => {
  it('reject wrong types, extra fields, empty updates and oversized payloads', () => {
    expect(payloadSchemas['get-user'].safeParse({ userId: 'not-a-uuid' }).success).toBe(false);
    expect(payloadSchemas['update-user'].safeParse({ userId: crypto.randomUUID(), changes: {} }).success).toBe(false);
    expect(payloadSchemas['delete-user'].safeParse({ userId: crypto.randomUUID(), extra: 1 }).success).toBe(false);
    expect(() => parseJob('get-user', { userId: crypto.randomUUID(), pad: 'x'.repeat(70_000) })).toThrow(/bytes, over/);
    expect(() => parseJob('drop-table', {})).toThrow('unknown operation "drop-table"');
  });
});

describe('RecentIds', () => {
  it('stays bounded and forgets what it hands out for deletes', () => {
    const ids = new RecentIds(3, seeded(2));
    for (const id of ['a', 'b', 'c', 'd', 'e']) ids.add(id);
    expect(ids.size).toBe(3);
    const taken = ids.take();
    expect(ids.size).toBe(2);
    for (let i = 0; i < 20; i++) expect(ids.pick()).not.toBe(taken);
  });
});
