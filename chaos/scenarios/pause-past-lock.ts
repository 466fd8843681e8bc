// Scenario: processes paused past their locks. Workers and the operator's `djq dlq redrive --all`
// processes are SIGSTOPped at random moments for longer than both LOCK_DURATION_MS (BullMQ's job
// lock) and TRANSITION_LOCK_MS (the lock of moves, redrives and purges), both 1 s here, then
// resumed, while DynamoDB is slow and fails a share of calls (jobs fail for good and are
// dead-lettered) and the operators redrive the DLQ in storms. A paused process wakes up mid-job,
// mid-move, mid-redrive or mid-flush with its leases gone: what it does then must not give any
// job a second outcome, nor a dead-lettered job its effect. Once the pauses stop, the operator
// redrives once more, unpaused, as after any incident.
import { setTimeout as sleep } from 'node:timers/promises';
import { isRunning, type Service } from '../processes.js';
import { expect, result, type ScenarioResult } from '../scenario.js';
import { type ChaosStack, every } from '../stack.js';
import { runWorkload } from '../workload.js';

export const PAUSE_PAST_LOCK_ENV = {
  LOCK_DURATION_MS: 1000,
  TRANSITION_LOCK_MS: 1000,
  STALLED_INTERVAL_MS: 1000,
  MAX_STALLED_COUNT: 1,
  JOB_ATTEMPTS: 2,
  JOB_BACKOFF_MS: 50,
  FAULT_LATENCY_MS: 40,
  FAULT_ERROR_RATE: 0.15,
  // Poison jobs are dead-lettered at once: the redrive storms always have entries to race on (the
  // SDK's retries absorb most injected faults, so few jobs fail for good otherwise).
  INVALID_JOB_RATE: 0.05,
  WORKER_CONCURRENCY: 8,
  DLQ_SWEEP_INTERVAL_MS: 500,
  FLOW_CONTROL: false,
};

/** How long a paused process stays stopped: always past both 1 s locks. */
const PAUSE_MS = { min: 1500, max: 3500 };

/** A djq run still going after this is killed and counted as a failure. */
const DJQ_DEADLINE_MS = 90_000;

interface PauseTally {
  workerPauses: number;
  /** djq processes paused, at any point of their life (the random pausers pick them too). */
  operatorPauses: number;
  /** djq processes paused between two jobs' progress lines of a redrive: mid-redrive. */
  operatorPausesMidRedrive: number;
  djqRuns: number;
  /** Jobs the djq runs report redriven. */
  redriven: number;
  /** Jobs a djq run left alone (its lock was lost while it was paused, or another held it). */
  busy: number;
  /** djq runs ended by an injected DynamoDB fault the SDK's retries did not absorb. */
  djqFaulted: number;
  /** djq runs that crashed, ended without their report or hit the deadline. */
  djqFailures: string[];
}

/** The processes this scenario may pause now, and those it has paused. */
interface Pausable {
  stack: ChaosStack;
  operators: Set<Service>;
  paused: Set<Service>;
  tally: PauseTally;
}

/** SIGSTOP for longer than both locks, then SIGCONT; false when it was not running or already paused. */
async function pausePastLocks(victim: Service, paused: Set<Service>): Promise<boolean> {
  if (!isRunning(victim.process) || paused.has(victim)) return false;
  paused.add(victim);
  victim.process.kill('SIGSTOP');
  await sleep(PAUSE_MS.min + Math.random() * (PAUSE_MS.max - PAUSE_MS.min));
  victim.process.kill('SIGCONT');
  paused.delete(victim);
  return true;
}

/** Pauses one live worker or operator process, picked at random. */
async function pauseOne({ stack, operators, paused, tally }: Pausable): Promise<void> {
  const candidates = [...stack.liveWorkers(), ...operators].filter((s) => isRunning(s.process) && !paused.has(s));
  const victim = candidates[Math.floor(Math.random() * candidates.length)];
  if (!victim) return;
  const operator = operators.has(victim);
  if (!(await pausePastLocks(victim, paused))) return;
  if (operator) tally.operatorPauses++;
  else tally.workerPauses++;
}

/**
 * Pauses a djq redrive once, mid-redrive: after a random one of its progress lines (`n/total`,
 * before the last), plus up to 30 ms. The storms run without a rate limit, one job's redrive right
 * after the other's, so the pause lands inside the next job's transition, holding its lock.
 */
function pauseMidRedrive(djq: Service, { paused, tally }: Pausable): Promise<void> {
  let target: number | undefined;
  let triggered = false;
  return new Promise((resolve) => {
    void djq.exited.then(() => {
      if (!triggered) resolve();
    });
    djq.onLine((line) => {
      const progress = /^\s*(\d+)\/(\d+)$/.exec(line);
      if (!progress || triggered) return;
      const [done, total] = [Number(progress[1]), Number(progress[2])];
      target ??= done + Math.floor(Math.random() * (total - done));
      if (done < target || done >= total) return;
      triggered = true;
      void (async () => {
        await sleep(Math.random() * 30);
        if (await pausePastLocks(djq, paused)) {
          tally.operatorPauses++;
          tally.operatorPausesMidRedrive++;
        }
        resolve();
      })();
    });
  });
}

/**
 * One `djq dlq redrive --all --rate 1000` (as fast as it goes), as an operator types it: text
 * output, so its progress shows.
 */
async function redriveStorm(pausable: Pausable, paused = true): Promise<void> {
  const { stack, operators, tally } = pausable;
  const djq = stack.startDjq(['dlq', 'redrive', '--all', '--rate', '1000']);
  if (paused) operators.add(djq);
  tally.djqRuns++;
  const midPause = paused ? pauseMidRedrive(djq, pausable) : Promise.resolve();
  const deadline = setTimeout(() => djq.process.kill('SIGKILL'), DJQ_DEADLINE_MS);
  const { code, signal } = await djq.exited;
  clearTimeout(deadline);
  operators.delete(djq);
  await midPause;
  const output = djq.output();
  const redriven = /^(\d+) job\(s\) redriven/m.exec(output);
  // An injected DynamoDB fault that outlasted the SDK's retries ends a run with its message (exit 1):
  // what an operator sees before running it again, not a failure of the run.
  if (code === 1 && !redriven && /^djq: .*\(injected\)/m.test(output)) {
    tally.djqFaulted++;
    return;
  }
  if ((code !== 0 && code !== 1) || !redriven) {
    tally.djqFailures.push(`exit ${code ?? signal}: ${output.slice(-300)}`);
    return;
  }
  tally.redriven += Number(redriven[1]);
  tally.busy += output.match(/^Left alone: /gm)?.length ?? 0;
}

export async function pausePastLock(jobs: number): Promise<ScenarioResult> {
  const startedAt = performance.now();
  const tally: PauseTally = {
    workerPauses: 0,
    operatorPauses: 0,
    operatorPausesMidRedrive: 0,
    djqRuns: 0,
    redriven: 0,
    busy: 0,
    djqFaulted: 0,
    djqFailures: [],
  };
  return runWorkload(
    {
      scenario: 'pause-past-lock',
      jobs,
      env: PAUSE_PAST_LOCK_ENV,
      workers: 4,
      seconds: Math.max(15, jobs / 40),
      // Below a test's timeout at the small size: a run that does not drain says what it left.
      timeoutMs: 90_000 + jobs * 60,
      during: async (stack, producer) => {
        const pausable: Pausable = { stack, operators: new Set(), paused: new Set(), tally };
        // Two pausers: at times two processes are stopped at once. Two operators redriving
        // everything, each one run at a time: their runs overlap on the same entries.
        const pausers = [every(300, () => pauseOne(pausable)), every(500, () => pauseOne(pausable))];
        const storms = [every(1500, () => redriveStorm(pausable)), every(2300, () => redriveStorm(pausable))];
        await producer.exited;
        // Keep going a little past the last job, then let the fleet drain undisturbed.
        await sleep(3000);
        for (const loop of [...pausers, ...storms]) await loop.stop();
        for (const worker of stack.liveWorkers()) worker.process.kill('SIGCONT');
        // The operator's last redrive, after the incident and unpaused: it also finishes redrives
        // the pauses stopped half-way whose intent the sweep had dropped (redrive.ts says when).
        await redriveStorm(pausable, false);
      },
    },
    ({ report, drained, producerExitCode }) =>
      result({
        scenario: 'pause-past-lock',
        size: jobs,
        report,
        faults: {
          workerPauses: tally.workerPauses,
          operatorPauses: tally.operatorPauses,
          operatorPausesMidRedrive: tally.operatorPausesMidRedrive,
          djqRuns: tally.djqRuns,
          redriven: tally.redriven,
          busy: tally.busy,
          djqFaulted: tally.djqFaulted,
        },
        faultSummary:
          `SIGSTOP ${PAUSE_MS.min / 1000}–${PAUSE_MS.max / 1000} s (1 s job locks, 1 s transition locks): workers ×${tally.workerPauses}, ` +
          `djq redrive ×${tally.operatorPauses} (${tally.operatorPausesMidRedrive} mid-redrive); ${tally.djqRuns} djq runs, ` +
          `${tally.redriven} redrives, ${tally.busy} left busy; 15% faults, +40 ms`,
        expectations: [
          expect('run drained', drained),
          expect('producer exited 0', producerExitCode === 0, `exit ${producerExitCode}`),
          expect('workers were paused past their locks', tally.workerPauses >= 3, `${tally.workerPauses} pauses`),
          expect(
            'djq redrive processes were paused mid-redrive, past the transition lock',
            tally.operatorPausesMidRedrive >= 1,
            `${tally.operatorPausesMidRedrive} of ${tally.operatorPauses} operator pauses`,
          ),
          expect('dead-lettered jobs were redriven mid-run (by djq)', tally.redriven > 0, `${tally.redriven} redrives`),
          expect(
            'every djq run ended 0 or 1 with its report (or the message of an injected fault)',
            tally.djqFailures.length === 0,
            tally.djqFailures.slice(0, 3).join(' | '),
          ),
        ],
        startedAt,
      }),
  );
}
