#!/usr/bin/env node
// djq: the operator's command line. Reads the same environment variables as the services, or, with
// none set, finds the running `npm start` stack through .djq/stack.json.
import '../shared/runtime/node-version.js';
// Then: starts OpenTelemetry before anything loads the AWS SDK (only when OTEL_* ask for traces).
import '../shared/telemetry/preload.js';
import { parseArgs } from 'node:util';
import { ConfigError } from '../shared/runtime/config.js';
import { tracing } from '../shared/telemetry/tracing.js';
import { check } from './commands/check.js';
import { dlq } from './commands/dlq.js';
import { find } from './commands/find.js';
import { history } from './commands/history.js';
import { migrate } from './commands/migrate.js';
import { recover } from './commands/recover.js';
import { replay } from './commands/replay.js';
import { stats } from './commands/stats.js';
import { CliContext, UsageError } from './context.js';
import { makeOutput } from './output.js';

const USAGE = `Usage: djq <command> [options]      (from a checkout: npm run -s djq -- <command>)

Commands:
  stats [--exact]                     queue counts by state, DLQ size, table size (approximate;
                                      --exact counts events and users with full-table scans)
  find [--id ID] [--user ID] [--state S] [--op NAME] [--error TEXT] [--from T] [--to T]
       [--gen N] [--limit N] [--cursor C]
                                      jobs from DynamoDB's records, pruned ones included; S is
                                      waiting|active|delayed|completed|dead-lettered|purged; T an
                                      ISO time or 15m/2h/3d ago
  history <jobId>                     a job's timeline: attempts with errors and durations, moves,
                                      redrives and purges with who, the effect in DynamoDB
  history --user <userId>             every job that touched the user, in order
  dlq list [--reason TEXT]            dead-lettered jobs with their reasons
  dlq show <jobId>                    one dead-lettered job: payload and every attempt's error
  dlq redrive <jobId…> | --all | [--reason TEXT] [--error-class C] [--op NAME] [--from T] [--to T]
        [--dry-run] [--rate N]        put jobs back on the queue under their idempotency key;
                                      --dry-run counts, groups reasons and warns; N jobs/s (10)
  dlq purge <same selection> --yes    delete dead-lettered jobs for good
  migrate                             bring a table of an earlier release to the current schema
  replay --verify                     fold every user's events and compare with the users table
  replay --rebuild                    rewrite the users table from the events (workers stopped)
  check                               the ledger: every job completed or dead-lettered, none lost or twice
  recover [--dry-run] [--rate N]      re-enqueue accepted jobs Redis lost (DynamoDB's records say which)

Every command takes --json for one JSON document on stdout.
Exit codes: 0 ok, 1 the command found a problem (or failed), 2 bad usage or configuration.`;

/** The options given (exactOptionalPropertyTypes: an absent option is no key, not `undefined`). */
function definedOnly<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: string };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      yes: { type: 'boolean', default: false },
      reason: { type: 'string' },
      verify: { type: 'boolean', default: false },
      rebuild: { type: 'boolean', default: false },
      exact: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      rate: { type: 'string' },
      id: { type: 'string' },
      user: { type: 'string' },
      state: { type: 'string' },
      op: { type: 'string' },
      error: { type: 'string' },
      'error-class': { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      gen: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  const known = ['stats', 'find', 'history', 'dlq', 'replay', 'check', 'recover', 'migrate'];
  if (!known.includes(command)) throw new UsageError(`unknown command "${command}" (${known.join(', ')})`);

  const out = makeOutput(values.json);
  const ctx = new CliContext();
  try {
    switch (command) {
      case 'stats':
        return await stats(ctx, out, { exact: values.exact });
      case 'find':
        return await find(
          ctx,
          out,
          definedOnly({
            id: values.id,
            user: values.user,
            state: values.state,
            op: values.op,
            error: values.error,
            from: values.from,
            to: values.to,
            gen: values.gen,
            limit: values.limit,
            cursor: values.cursor,
          }),
        );
      case 'history':
        return await history(ctx, out, rest, values.user);
      case 'migrate':
        return await migrate(ctx, out);
      case 'replay':
        return await replay(ctx, out, { verify: values.verify, rebuild: values.rebuild });
      case 'check':
        return await check(ctx, out);
      case 'recover':
        return await recover(ctx, out, {
          dryRun: values['dry-run'],
          ...(values.rate !== undefined ? { rate: values.rate } : {}),
        });
      default: {
        const [action = '', ...ids] = rest;
        return await dlq(ctx, out, {
          action,
          ids,
          all: values.all,
          yes: values.yes,
          dryRun: values['dry-run'],
          ...definedOnly({
            reason: values.reason,
            errorClass: values['error-class'],
            op: values.op,
            from: values.from,
            to: values.to,
            rate: values.rate,
          }),
        });
      }
    }
  } finally {
    await ctx.close();
    // A redrive's span (tracing on) leaves before the process does; a no-op when tracing is off.
    await tracing().flush(2000);
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (usage) {
      process.stderr.write(`djq: ${(error as Error).message}\nRun djq --help for the commands.\n`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`djq: ${(error as Error).message}\n`);
      process.exitCode = 1;
    }
  },
);
