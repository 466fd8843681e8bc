// The bench's printed summary: a section with a table of its own does not leave the main
// "Benchmark" table printed empty; the per-job DynamoDB rows hold issue 19's one extra write.
import { describe, expect, it } from 'vitest';
import { emptyTally } from '../../bench/dynamo-units.js';
import { BEFORE_OUTCOMES } from '../../bench/summary/before-outcomes.js';
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

describe('summarise, DynamoDB per job before → now', () => {
  const perJob = (writeUnits: number) => ({
    requests: 4,
    readRequests: 1,
    writeRequests: 3,
    readUnits: 0.9,
    writeUnits,
    failedConditions: 0,
    indexWriteUnits: 3.9,
    byKind: { decision: { ...emptyKind, requests: 1, writeRequests: 1, writeUnits: 1 } },
  });
  const emptyKind = emptyTally();
  const run = (writeUnits: number) => ({
    jobs: 100,
    jobsPerSec: 100,
    requestsPerSec: 300,
    requestsPerJob: 3,
    historyRequestsPerJob: 0.05,
    requestsByCommand: {},
    acceptTickJobs: 2,
    perJob: perJob(writeUnits),
  });
  const naive = [{ jobsPerSec: 300, requestsPerSec: 300 }];

  it('holds the write units per job to one more than before', () => {
    const within = BEFORE_OUTCOMES.dynamo.writeUnits + 1;

    const met = summarise({ project: [run(within)], naive }, false);
    const missed = summarise({ project: [run(within + 0.5)], naive }, false);

    expect(met.table).toMatch(/… write units \(as dynalite reports them\).*issue 19: <= \+1 ✓/);
    expect(missed.table).toMatch(/… write units \(as dynalite reports them\).*issue 19: <= \+1 ✗/);
    expect(missed.json.writeUnitsPerJob).toBe(within + 0.5);
    expect(missed.table).toMatch(/requests by item +\| decision 1\.00/);
  });
});
