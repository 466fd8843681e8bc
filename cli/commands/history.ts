// djq history <jobId>: the job's timeline (every attempt with its error and duration, put-backs,
// dead-letter moves, redrives and purges with who and when, the effect in DynamoDB), its status
// and where BullMQ holds it now. djq history --user <id>: every job that touched the user, in order.

import { statusOf } from '../../shared/lifecycle/history.js';
import type { HistoryEntry } from '../../shared/lifecycle/history-entry.js';
import type { AttemptView, Timeline, TimelineItem } from '../../shared/operator/job-timeline.js';
import type { JobTrace } from '../../shared/operator/operator-console.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import { type Output, table } from '../output.js';

export async function history(ctx: CliContext, out: Output, ids: string[], user?: string): Promise<number> {
  if (user !== undefined) {
    if (ids.length > 0) throw new UsageError('history takes a jobId or --user, not both');
    return userHistory(ctx, out, user);
  }
  const [jobId] = ids;
  if (!jobId || ids.length !== 1) throw new UsageError('history takes exactly one jobId (or --user <userId>)');
  const { shards } = await ctx.system();
  const operator = await ctx.operator();
  const [timeline, places] = await Promise.all([
    operator.timeline(jobId),
    // A job lives in one shard: look in each (one, unless QUEUE_SHARDS > 1).
    Promise.all(
      shards.map(async ({ queues }) => ({
        state: await queues.operations.getJobState(jobId),
        inDlq: Boolean(await queues.deadLetter.getJob(jobId)),
      })),
    ),
  ]);
  const found = places.findIndex((p) => p.inDlq || p.state !== 'unknown');
  const place = places[Math.max(0, found)];
  const where =
    (place?.inDlq ? 'dead-letter queue' : (place?.state ?? 'unknown')) +
    (shards.length > 1 && found >= 0 ? ` (shard ${found})` : '');
  if (!timeline && where === 'unknown') {
    process.stderr.write(`No history for job ${jobId}: unknown id, or expired (HISTORY_RETENTION_DAYS).\n`);
    return 1;
  }
  const entries = timeline?.items.flatMap((i) => (i.kind === 'history' ? [i.entry] : [])) ?? [];
  // A job's history starts at its first attempt: one still waiting for it has none yet. DynamoDB's
  // record decides the outcome; the history says how it got there.
  const status = timeline?.record?.outcome ?? (entries.length === 0 ? where : statusOf(entries));
  const data = {
    jobId,
    status,
    queueState: where,
    gen: timeline?.record?.gen ?? 1,
    entries: entries.map((e) => (e.type === 'completed' ? { ...e, result: parseResult(e.result) } : e)),
    attempts: timeline?.attempts ?? [],
    marks: timeline?.record?.marks ?? [],
    effect: timeline?.effect ?? [],
    ...(timeline?.historyExpired ? { historyExpired: true } : {}),
    ...(timeline?.trace ? { trace: timeline.trace } : {}),
  };
  out.result(data, () => render(jobId, status, where, timeline));
  return 0;
}

function render(
  jobId: string,
  status: string,
  where: string,
  timeline: (Timeline & { trace?: JobTrace }) | undefined,
): string {
  const items = timeline?.items ?? [];
  const lines = items.map(itemLine);
  const notStarted = timeline?.historyExpired
    ? ['(history expired: kept HISTORY_RETENTION_DAYS after its last entry; the record below is kept)']
    : items.length === 0
      ? ['(not started yet: its history begins at its first attempt)']
      : [];
  const accepted = timeline?.record?.accepted;
  const attempts = timeline?.attempts ?? [];
  const effect = timeline?.effect ?? [];
  return [
    `job ${jobId}: ${status} (now: ${where})${accepted ? `  ${accepted.name}, accepted ${accepted.at}` : ''}`,
    ...(timeline?.trace
      ? [
          `trace ${timeline.trace.traceId} (from its ${timeline.trace.from} entry${timeline.trace.from === 'job history' ? '' : ' in Redis'})`,
        ]
      : []),
    ...notStarted,
    ...lines,
    ...(attempts.length > 0 ? ['', 'attempts:', ...attempts.map(attemptLine)] : []),
    ...(effect.length > 0
      ? [
          '',
          'effect in DynamoDB:',
          ...effect.map(
            (e) =>
              `  user ${e.userId}: ${e.event ? `${e.event.type} at version ${e.event.version}${e.event.applied ? '' : ' (not applied)'}` : 'no event'}; projection at version ${e.projectionVersion ?? 'none'}${e.deleted ? ' (deleted)' : ''}`,
          ),
        ]
      : []),
  ].join('\n');
}

function attemptLine(a: AttemptView): string {
  const took = a.durationMs !== undefined ? ` ${a.durationMs} ms` : '';
  const error = a.outcome === 'failed' ? `: ${a.errorClass}: ${a.message}${a.retryable ? '' : ' (not retryable)'}` : '';
  return `  #${a.n} (generation ${a.gen}, attempt ${a.attempt}) ${a.outcome}${took}${error}`;
}

function itemLine(item: TimelineItem): string {
  if (item.kind === 'mark') {
    const { mark, gen } = item;
    const reason = mark.reason ? `: ${mark.reason}` : '';
    return `${mark.at}  DynamoDB: generation ${gen} ${mark.outcome === 'redriven' ? 'closed by a redrive' : mark.outcome} by ${mark.by}${reason}`;
  }
  return entryLine(item.entry);
}

function entryLine(e: HistoryEntry): string {
  const who = e.workerId ? ` [${e.workerId}]` : '';
  switch (e.type) {
    case 'enqueued':
      return `${e.at}  enqueued ${e.op ?? ''}`;
    case 'redriven':
    case 'purged':
      return `${e.at}  ${e.type} from the dead-letter queue${who}`;
    case 'put-back':
      return `${e.at}  put back for ${e.delayMs} ms${who}: ${e.reason} (no attempt used${e.capacityUnits ? `; ${e.capacityUnits} capacity units spent` : ''})`;
    case 'attempt-started':
      return `${e.at}  attempt ${e.attempt} started${who}`;
    case 'attempt-failed':
      if (e.stale)
        return `${e.at}  a stale delivery of attempt ${e.attempt} failed${who}${e.delivery ? `/${e.delivery}` : ''} after its lock expired (not counted): ${e.errorClass}: ${e.message}`;
      return `${e.at}  attempt ${e.attempt} failed${who}${e.delivery ? `/${e.delivery}` : ''}: ${e.errorClass}: ${e.message}${!e.retryable ? ' (not retryable)' : e.nextDelayMs === undefined ? ' (no attempts left)' : ` (retry in ~${e.nextDelayMs} ms)`}`;
    case 'completed':
      return `${e.at}  completed on attempt ${e.attempt}${who} in ${e.durationMs} ms, ${e.capacityUnits} capacity units: ${e.result}`;
    case 'dead-lettered':
      return `${e.at}  dead-lettered after ${e.attempts} attempt(s)${who}: ${e.reason}${e.landed ? ` (users that landed: ${e.landed.join(', ')})` : ''}`;
  }
}

async function userHistory(ctx: CliContext, out: Output, userId: string): Promise<number> {
  const jobs = await (await ctx.operator()).userJobs(userId);
  const head = (await ctx.stores()).users;
  const projection = await head.getHead(userId);
  out.result(
    { userId, projectionVersion: projection?.version ?? null, deleted: projection?.deleted ?? false, jobs },
    () =>
      jobs.length === 0
        ? `No job touched user ${userId} (or its records are older than the job indexes: djq migrate).`
        : [
            `user ${userId}: projection at version ${projection?.version ?? 'none'}${projection?.deleted ? ' (deleted)' : ''}`,
            table([
              ['ACCEPTED', 'JOB ID', 'OPERATION', 'STATE', 'GEN', 'EVENT', 'REASON'],
              ...jobs.map((j) => [
                j.acceptedAt ?? '',
                j.jobId,
                j.op ?? '?',
                j.state,
                j.gen,
                j.eventVersion !== undefined ? `v${j.eventVersion}` : '-',
                (j.reason ?? '').slice(0, 60),
              ]),
            ]),
          ].join('\n'),
  );
  return 0;
}

/**
 * The history keeps a completed job's result as one line of text, `<op> <JSON>` (or a sentence for a
 * job settled as completed): --json gives it back as an object, never a string inside JSON.
 */
export function parseResult(text: string): Record<string, unknown> {
  const match = /^([a-z-]+) (\{.*\})$/s.exec(text);
  if (match) {
    try {
      return { op: match[1], ...(JSON.parse(match[2] as string) as Record<string, unknown>) };
    } catch {
      // not the `<op> <JSON>` form after all: the text below
    }
  }
  return { note: text };
}
