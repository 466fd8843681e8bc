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
import { history } from './commands/history.js';
import { replay } from './commands/replay.js';
import { stats } from './commands/stats.js';
import { CliContext, UsageError } from './context.js';
import { makeOutput } from './output.js';

const USAGE = `Usage: djq <command> [options]      (from a checkout: npm run -s djq -- <command>)

Commands:
  stats [--exact]                     queue counts by state, DLQ size, table size (approximate;
                                      --exact counts events and users with full-table scans)
  history <jobId>                     a job's lifecycle: enqueued, attempts, outcome
  dlq list [--reason TEXT]            dead-lettered jobs with their reasons
  dlq show <jobId>                    one dead-lettered job: payload and every attempt's error
  dlq redrive <jobId…> | --all [--reason TEXT]
                                      put jobs back on the queue under their idempotency key
  dlq purge <jobId…> | --all --yes    delete dead-lettered jobs for good
  replay --verify                     fold every user's events and compare with the users table
  replay --rebuild                    rewrite the users table from the events (workers stopped)
  check                               the ledger: every job completed or dead-lettered, none lost or twice

Where djq acts: REDIS_URL and AWS_ENDPOINT_URL_DYNAMODB if set, else the npm start stack running in
this directory. It never acts on real AWS unasked: add --aws (or set DJQ_TARGET=aws) for that.

Every command takes --json for one JSON document on stdout.
Exit codes: 0 ok, 1 the command found a problem (or failed), 2 bad usage or configuration.`;

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
      aws: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  const known = ['stats', 'history', 'dlq', 'replay', 'check'];
  if (!known.includes(command)) throw new UsageError(`unknown command "${command}" (${known.join(', ')})`);

  const out = makeOutput(values.json);
  const ctx = new CliContext(process.env, { aws: values.aws });
  if (ctx.aws) {
    const { dynamodb, table } = ctx.target;
    process.stderr.write(`djq: acting on table ${table} in ${dynamodb} (asked for with --aws or DJQ_TARGET=aws)\n`);
    const changesData = (command === 'dlq' && ['redrive', 'purge'].includes(rest[0] ?? '')) || values.rebuild;
    if (changesData && !values.yes) throw new UsageError(`this changes table ${table} in AWS: add --yes to confirm`);
  }
  try {
    switch (command) {
      case 'stats':
        return await stats(ctx, out, { exact: values.exact });
      case 'history':
        return await history(ctx, out, rest);
      case 'replay':
        return await replay(ctx, out, { verify: values.verify, rebuild: values.rebuild });
      case 'check':
        return await check(ctx, out);
      default: {
        const [action = '', ...ids] = rest;
        return await dlq(ctx, out, {
          action,
          ids,
          all: values.all,
          yes: values.yes,
          ...(values.reason ? { reason: values.reason } : {}),
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
