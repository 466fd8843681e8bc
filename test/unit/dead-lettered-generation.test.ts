// Which generation a DLQ entry stands for, by the job's DynamoDB record: what a bulk plan records
// and what each job's redrive or purge compares under its lock (moved on when they differ).
import { describe, expect, it } from 'vitest';
import { deadLetteredGeneration } from '../../shared/lifecycle/transition.js';

describe('deadLetteredGeneration', () => {
  it.each([
    ['no record', undefined, undefined],
    ['dead-lettered in its first generation', { gen: 1, outcome: 'dead-lettered' }, 1],
    ['dead-lettered again after two redrives', { gen: 3, outcome: 'dead-lettered', genStartedAt: 5 }, 3],
    // Reopened by a redrive that has not removed the old entry yet: the entry is still the one before.
    ['a redrive of generation 2 half done', { gen: 3, genStartedAt: 5 }, 2],
    ['never redriven and still undecided', { gen: 1 }, 1],
    ['purged', { gen: 2, outcome: 'purged', genStartedAt: 5 }, 2],
  ] as const)('%s', (_case, record, expected) => {
    expect(deadLetteredGeneration(record)).toBe(expected);
  });
});
