// Bull Board's view of the dead-letter queue: its entries are plain waiting jobs, so Bull Board
// would show empty Logs (the attempts are in the data) and a "No workers" badge (nothing consumes
// the DLQ, by design: an operator redrives or purges). This adapter gives each entry a log of its
// reason and its attempts, numbered across redrives, and says nothing about workers.
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import type { QueueWorker } from '@bull-board/api/typings/app';
import { type DeadLetterData, writerOf } from '../shared/lifecycle/dead-letter.js';
import { numberAttempts } from '../shared/operator/job-timeline.js';

/** The log lines Bull Board shows for one DLQ entry. */
export function deadLetterLog(data: DeadLetterData): string[] {
  return [
    `dead-lettered ${data.deadLetteredAt} after ${data.attemptsMade} attempt(s), redriven ${data.redrives} time(s) before: ${data.reason}`,
    ...numberAttempts(data.attempts).map(
      (a) =>
        `#${a.n} (generation ${a.gen}, attempt ${a.attempt}) ${a.at}${writerOf(a)} ${a.errorClass}${a.retryable ? '' : ' (not retryable)'}: ${a.message}`,
    ),
    ...(data.landed ? [`users that landed: ${data.landed.join(', ')}`] : []),
    'Act on it from the console (/console) or djq dlq redrive|purge.',
  ];
}

export class DeadLetterAdapter extends BullMQAdapter {
  override async getJobLogs(id: string): Promise<string[]> {
    const job = await this.getJob(id);
    const data = job?.data as DeadLetterData | undefined;
    return data?.attempts ? deadLetterLog(data) : super.getJobLogs(id);
  }

  /** Unknown rather than none: Bull Board shows "No workers" for an empty list. */
  override async getWorkers(): Promise<QueueWorker[] | null> {
    return null;
  }
}
