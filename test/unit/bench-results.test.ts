// The bench's printed summary: a section with a table of its own does not leave the main
// "Benchmark" table printed empty.
import { describe, expect, it } from 'vitest';
import { summarise } from '../../bench/summary/summarise.js';

const trips = { 'get-user': { jobs: 10, min: 1, max: 1, mean: 1 } };

describe('summarise', () => {
  it('prints no empty Benchmark table when only sections with tables of their own ran', () => {
    const { table } = summarise({ roundTrips: trips }, false);

    expect(table).not.toMatch(/^Benchmark/m);
    expect(table).toMatch(/^DynamoDB round trips per operation/);
  });

  it('keeps the --quick warning without the table', () => {
    const { table } = summarise({ roundTrips: trips }, true);

    expect(table.split('\n')[0]).toBe('(--quick: a smoke run, the figures are not meaningful)');
  });
});
