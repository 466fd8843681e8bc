// The operator's console for the dead-letter queue: list, show, redrive and purge, by job id, all,
// or by reason. `djq dlq` and the board's DLQ API are thin shells over this one class, so they
// cannot drift; every action is a JobLifecycle transition (under the job's lock, recorded).
import type { DeadLetterData, DeadLetterEntry } from '../lifecycle/dead-letter.js';
import { JobBusyError, type JobLifecycle } from '../lifecycle/job-lifecycle.js';
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
  /** Left alone: the id is alive in the operations queue, or another transition held it too long. */
  busy: { jobId: string; reason: string }[];
}

export class DlqConsole {
  constructor(
    private readonly queues: Queues,
    private readonly lifecycle: JobLifecycle,
  ) {}

  async list(filter: DlqFilter = {}): Promise<DeadLetterEntry[]> {
    const jobs = await this.queues.deadLetter.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1, true);
    const needle = filter.reason?.toLowerCase();
    return jobs
      .filter((j) => j?.data)
      .map((j) => ({ jobId: String(j.id), ...(j.data as DeadLetterData) }))
      .filter((e) => !needle || e.reason.toLowerCase().includes(needle));
  }

  async show(jobId: string): Promise<DeadLetterEntry | undefined> {
    const job = await this.queues.deadLetter.getJob(jobId);
    return job?.data ? { jobId, ...(job.data as DeadLetterData) } : undefined;
  }

  redrive(selection: DlqSelection): Promise<DlqActionReport> {
    return this.act(selection, (id) => this.lifecycle.redrive(id));
  }

  purge(selection: DlqSelection): Promise<DlqActionReport> {
    return this.act(selection, (id) => this.lifecycle.purge(id));
  }

  private async act(
    selection: DlqSelection,
    action: (jobId: string) => Promise<'done' | 'not-found'>,
  ): Promise<DlqActionReport> {
    const ids =
      'all' in selection
        ? (await this.list(selection.reason ? { reason: selection.reason } : {})).map((e) => e.jobId)
        : [...new Set(selection.jobIds)];
    const report: DlqActionReport = { done: [], notFound: [], busy: [] };
    for (const jobId of ids) {
      try {
        const outcome = await action(jobId);
        (outcome === 'done' ? report.done : report.notFound).push(jobId);
      } catch (error) {
        if (!(error instanceof JobBusyError || error instanceof TransitionBusyError)) throw error;
        report.busy.push({ jobId, reason: error.message });
      }
    }
    return report;
  }
}
