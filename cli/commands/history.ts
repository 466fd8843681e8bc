// djq history <jobId>: the job's lifecycle timeline from the job history, with its current status
// (a projection of those entries) and where BullMQ holds it now.
import { statusOf } from '../../shared/lifecycle/history.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../context.js';
import type { Output } from '../output.js';

export async function history(ctx: CliContext, out: Output, ids: string[]): Promise<number> {
  const [jobId] = ids;
  if (!jobId || ids.length !== 1) throw new UsageError('history takes exactly one jobId');
  const { stores, shards } = await ctx.system();
  const [entries, places] = await Promise.all([
    stores.history.list(jobId),
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
  if (entries.length === 0 && where === 'unknown') {
    process.stderr.write(`No history for job ${jobId}: unknown id, or expired (HISTORY_RETENTION_DAYS).\n`);
    return 1;
  }
  // A job's history starts at its first attempt: one still waiting for it has none yet.
  const status = entries.length === 0 ? where : statusOf(entries);
  const structured = entries.map((e) => (e.type === 'completed' ? { ...e, result: parseResult(e.result) } : e));
  out.result({ jobId, status, queueState: where, entries: structured }, () => {
    const lines = entries.map((e) => {
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
          return `${e.at}  attempt ${e.attempt} failed${who}: ${e.errorClass}: ${e.message}${!e.retryable ? ' (not retryable)' : e.nextDelayMs === undefined ? ' (no attempts left)' : ` (retry in ~${e.nextDelayMs} ms)`}`;
        case 'completed':
          return `${e.at}  completed on attempt ${e.attempt}${who} in ${e.durationMs} ms, ${e.capacityUnits} capacity units: ${e.result}`;
        case 'dead-lettered':
          return `${e.at}  dead-lettered after ${e.attempts} attempt(s)${who}: ${e.reason}${e.landed ? ` (users that landed: ${e.landed.join(', ')})` : ''}`;
      }
      return '';
    });
    const notStarted = entries.length === 0 ? ['(not started yet: its history begins at its first attempt)'] : [];
    return [`job ${jobId}: ${status} (now: ${where})`, ...notStarted, ...lines].join('\n');
  });
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
