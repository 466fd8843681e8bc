// The operator's console for the dead-letter queue: list, show, redrive and purge, by job id, all,
// or by reason. `djq dlq` and the board's DLQ API are thin shells over this one class, so they
// cannot drift; every action is a JobLifecycle transition (under the job's lock, recorded). With a
// sharded queue it spans every shard: a job id lives in one shard's DLQ, and is acted on there.
import type { DeadLetterData, DeadLetterEntry } from '../lifecycle/dead-letter.js';
import { JobBusyError, type JobLifecycle, type OperatorOutcome } from '../lifecycle/job-lifecycle.js';
import type { Queues } from '../lifecycle/queues.js';
import { TransitionBusyError } from '../lifecycle/transition-lock.js';

export interface DlqFilter {
  reason?: string;
}

/** Which jobs an action is for: the given ids, or every entry (matching the reason, if given). */
export type DlqSelection = { jobIds: readonly string[] } | { all: true; reason?: string };

export interface DlqActionReport {
  /** Redriven or purged. */
  done: string[];
  /** Not in the dead-letter queue (never was, or another operator acted first). */
  notFound: string[];
  /** Left alone: its dead-lettered generation is not the one the plan named (redriven since, maybe back again). */
  movedOn: string[];
  /** Left alone: the id is alive in the operations queue, or another transition held it too long. */
  busy: { jobId: string; reason: string }[];
}

/** What one planned job's action did: an operator outcome, or left alone because the job was busy. */
export type PlannedOutcome = OperatorOutcome | { busy: string };

/** One shard's queues and lifecycle (the only one, unless QUEUE_SHARDS > 1). */
export interface DlqShard {
  queues: Queues;
  lifecycle: JobLifecycle;
}

export class DlqConsole {
  constructor(private readonly shards: readonly DlqShard[]) {}

  async list(filter: DlqFilter = {}): Promise<DeadLetterEntry[]> {
    const needle = filter.reason?.toLowerCase();
    const perShard = await Promise.all(
      this.shards.map((s) => s.queues.deadLetter.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1, true)),
    );
    return perShard
      .flat()
      .filter((j) => j?.data)
      .map((j) => ({ jobId: String(j.id), ...(j.data as DeadLetterData) }))
      .filter((e) => !needle || e.reason.toLowerCase().includes(needle));
  }

  async show(jobId: string): Promise<DeadLetterEntry | undefined> {
    for (const shard of this.shards) {
      const job = await shard.queues.deadLetter.getJob(jobId);
      if (job?.data) return { jobId, ...(job.data as DeadLetterData) };
    }
    return undefined;
  }

  redrive(selection: DlqSelection): Promise<DlqActionReport> {
    return this.act(selection, (shard, id) => shard.lifecycle.redrive(id));
  }

  purge(selection: DlqSelection): Promise<DlqActionReport> {
    return this.act(selection, (shard, id) => shard.lifecycle.purge(id));
  }

  /**
   * One job of a bulk plan, bound to the generation the plan saw dead-lettered (`gen`, undefined
   * when the job had no record): a job redriven since answers `moved-on`, even if it is back in the
   * DLQ. The check is made under the job's lock by the transition itself.
   */
  async actOnPlanned(action: 'redrive' | 'purge', jobId: string, gen: number | undefined): Promise<PlannedOutcome> {
    const check = gen === undefined ? {} : { gen };
    try {
      const shard = await this.shardHolding(jobId);
      return action === 'redrive'
        ? await shard.lifecycle.redrive(jobId, check)
        : await shard.lifecycle.purge(jobId, check);
    } catch (error) {
      if (!(error instanceof JobBusyError || error instanceof TransitionBusyError)) throw error;
      return { busy: error.message };
    }
  }

  /** The shard whose DLQ holds the job now (the first shard when none does: the action then says not-found). */
  private async shardHolding(jobId: string): Promise<DlqShard> {
    if (this.shards.length > 1)
      for (const shard of this.shards) if (await shard.queues.deadLetter.getJob(jobId)) return shard;
    return this.shards[0] as DlqShard;
  }

  private async act(
    selection: DlqSelection,
    action: (shard: DlqShard, jobId: string) => Promise<OperatorOutcome>,
  ): Promise<DlqActionReport> {
    const ids =
      'all' in selection
        ? (await this.list(selection.reason ? { reason: selection.reason } : {})).map((e) => e.jobId)
        : [...new Set(selection.jobIds)];
    const report: DlqActionReport = { done: [], notFound: [], movedOn: [], busy: [] };
    for (const jobId of ids) {
      try {
        const outcome = await action(await this.shardHolding(jobId), jobId);
        ({ done: report.done, 'not-found': report.notFound, 'moved-on': report.movedOn })[outcome].push(jobId);
      } catch (error) {
        if (!(error instanceof JobBusyError || error instanceof TransitionBusyError)) throw error;
        report.busy.push({ jobId, reason: error.message });
      }
    }
    return report;
  }
}
