// The table's rows built from paired rounds (project and baseline back to back): every figure of a
// row comes from the one round whose ratio is the median, and the range is over all rounds.
import { fmt } from '../../charts/table.js';
import type { Row } from '../report.js';
import type { BaselineRun, CeilingRun, ProjectRun } from '../sections/end-to-end.js';
import type { NodeVersionPair, NodeVersionsResult } from '../sections/node-versions.js';
import type { OverheadRound, OverheadRun, QueueOverheadResult } from '../sections/queue-overhead.js';
import { median, type Pairing } from '../support.js';
import { type EndToEndPairs, spread } from './figures.js';

/** Every figure of a row comes from the one round whose ratio is the median; the range is over all rounds. */
export function overheadRows(q: QueueOverheadResult, met: string): Row[] {
  const pair = (p: Pairing) => q.rounds[p.round] as OverheadRound;
  const cpu = (r: OverheadRun) => `${r.nodeMicros} + ${r.redisMicros} µs`;
  const rounds = `median pair of ${q.rounds.length}, range`;
  return [
    [
      `Queue overhead (in-memory store, ${q.jobs} jobs, same job options; ${rounds})`,
      fmt.rate(pair(q.ratio).project.jobsPerSec),
      `raw BullMQ no-op ${fmt.rate(pair(q.ratio).raw.jobsPerSec)}`,
      spread(q.ratio),
      `>= 0.80${met}`,
    ],
    [
      'Against raw BullMQ with removeOnComplete: true',
      fmt.rate(pair(q.ratioToFastest).project.jobsPerSec),
      `raw, removeOnComplete ${fmt.rate(pair(q.ratioToFastest).rawRemove.jobsPerSec)}`,
      spread(q.ratioToFastest),
      '(info)',
    ],
    [
      'CPU per job: worker process + Redis (raw ÷ project)',
      cpu(pair(q.cpuRatio).project),
      `raw ${cpu(pair(q.cpuRatio).raw)}`,
      spread(q.cpuRatio),
      '(info)',
    ],
    [
      'Keeping completed jobs (by age and count) vs removing them: CPU per job',
      `+${q.retentionMicrosPerJob.project.node} + ${q.retentionMicrosPerJob.project.redis} µs`,
      `raw +${q.retentionMicrosPerJob.raw.node} + ${q.retentionMicrosPerJob.raw.redis} µs`,
      '',
      '(info) worker + Redis, median of rounds',
    ],
  ];
}

export function endToEndRows(
  e: EndToEndPairs,
  project: ProjectRun[],
  naive: BaselineRun[],
  ceiling: CeilingRun[],
  requestsMet: string,
): Row[] {
  const at = <T>(runs: T[], p: Pairing) => runs[p.round] as T;
  const units = (v: number | undefined) => (v === undefined ? 'n/a' : `${Math.round(v).toLocaleString('en-US')} CU/s`);
  const rows: Row[] = [
    [
      `End to end on dynalite (${project[0]?.jobs} jobs, default mix; median pair of ${project.length}, range)`,
      fmt.rate(at(project, e.jobs).jobsPerSec),
      `naive PutItem ${fmt.rate(at(naive, e.jobs).jobsPerSec)}`,
      spread(e.jobs),
      '(info)',
    ],
    [
      'DynamoDB requests/s',
      fmt.rate(at(project, e.requests).requestsPerSec),
      `naive ${fmt.rate(at(naive, e.requests).requestsPerSec)}`,
      spread(e.requests),
      `>= 0.90${requestsMet}`,
    ],
    [
      'DynamoDB capacity units/s (read + write)',
      units(at(project, e.capacity).capacityUnitsPerSec),
      `naive ${units(at(naive, e.capacity).capacityUnitsPerSec)}`,
      spread(e.capacity),
      '(info)',
    ],
    [
      'DynamoDB per job, every call (reads + writes): requests; read, write units',
      perJobCell(project),
      'naive 0 + 1.00; 0, 1.00',
      '',
      '(info)',
    ],
  ];
  if (e.ceilingRequests && e.ceilingCapacity) {
    rows.push([
      'Share of the backend ceiling: requests/s',
      fmt.rate(at(project, e.ceilingRequests).requestsPerSec),
      `tight PutItem loop ${fmt.rate(at(ceiling, e.ceilingRequests).requestsPerSec)}`,
      spread(e.ceilingRequests),
      '(info)',
    ]);
    rows.push([
      'Share of the backend ceiling: capacity units/s',
      units(at(project, e.ceilingCapacity).capacityUnitsPerSec),
      `tight PutItem loop ${units(at(ceiling, e.ceilingCapacity).capacityUnitsPerSec)}`,
      spread(e.ceilingCapacity),
      '(info)',
    ]);
  }
  return rows;
}

/** "1.20 + 2.40 requests; 1.90 RCU, 3.10 WCU": medians over the rounds; n/a for results without them. */
function perJobCell(project: ProjectRun[]): string {
  if (!project.every((r) => r.perJob)) return 'n/a';
  const med = (key: 'readRequests' | 'writeRequests' | 'readUnits' | 'writeUnits') =>
    (median(project.map((r) => r.perJob?.[key] as number)) as number).toFixed(2);
  return `${med('readRequests')} + ${med('writeRequests')}; ${med('readUnits')} RCU, ${med('writeUnits')} WCU`;
}

/** Raw BullMQ on the bench's Node against Node 20 (the project cannot run there; BullMQ can). */
export function nodeVersionRows(n: NodeVersionsResult): Row[] {
  if ('skipped' in n)
    return [["Raw BullMQ no-op worker, Node 20 vs the bench's Node", 'skipped', n.skipped, '', '(info)']];
  const pair = (p: Pairing) => n.pairs[p.round] as NodeVersionPair;
  return [
    [
      `Raw BullMQ no-op worker on Node ${n.current.version} vs ${n.node20.version} (${n.jobs} jobs; median pair of ${n.pairs.length}, range)`,
      fmt.rate(pair(n.ratio).current.jobsPerSec),
      `Node 20 ${fmt.rate(pair(n.ratio).node20.jobsPerSec)}`,
      spread(n.ratio),
      '(info) child process, same job options',
    ],
    [
      'Its worker CPU per job (current ÷ Node 20)',
      `${pair(n.cpuRatio).current.cpuMicrosPerJob} µs`,
      `Node 20 ${pair(n.cpuRatio).node20.cpuMicrosPerJob} µs`,
      spread(n.cpuRatio),
      '(info)',
    ],
  ];
}
