#!/usr/bin/env node
// djq: the operator's command line. Reads the same environment variables as the services, or, with
// none set, finds the running `npm start` stack through .djq/stack.json.
import '../shared/runtime/node-version.js';
// Then: starts OpenTelemetry before anything loads the AWS SDK (only when OTEL_* ask for traces).
import '../shared/telemetry/preload.js';
import { ConfigError } from '../shared/runtime/config.js';
import { nearest, parseFlags, UnknownFlagError } from '../shared/runtime/flags.js';
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
import { COMMANDS, COMMON_FLAGS, commandHelp, USAGE } from './usage.js';

const OPTIONS = {
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  yes: { type: 'boolean' },
  reason: { type: 'string' },
  verify: { type: 'boolean' },
  rebuild: { type: 'boolean' },
  force: { type: 'boolean' },
  exact: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  rate: { type: 'string' },
  resume: { type: 'string' },
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
  aws: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The flags, an unknown one answered by the nearest one the command takes. */
function parse(argv: string[]) {
  const command = argv.find((a) => !a.startsWith('-')) ?? '';
  const takes = [...(COMMANDS[command]?.flags ?? Object.keys(OPTIONS)), ...COMMON_FLAGS];
  try {
    return parseFlags({ args: argv, allowPositionals: true, options: OPTIONS }, takes);
  } catch (error) {
    throw error instanceof UnknownFlagError ? new UsageError(error.message) : error;
  }
}

/** The options given (exactOptionalPropertyTypes: an absent option is no key, not `undefined`). */
function definedOnly<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: string };
}

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  let [command, ...rest] = positionals;
  if (command === 'help') [command, ...rest] = rest;
  const wantsHelp = values.help === true || positionals[0] === 'help';
  if (!command) {
    process.stdout.write(`${USAGE}\n`);
    return wantsHelp ? 0 : 2;
  }
  const known = Object.keys(COMMANDS);
  const spec = COMMANDS[command];
  if (!spec) {
    const near = nearest(command, known);
    throw new UsageError(
      `unknown command "${command}"${near ? `: did you mean "${near}"?` : ''} (${known.join(', ')})`,
    );
  }
  if (wantsHelp) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  const given = Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  const foreign = given.filter((k) => !spec.flags.includes(k) && !(COMMON_FLAGS as readonly string[]).includes(k));
  if (foreign.length > 0) {
    throw new UsageError(
      `djq ${command} does not take ${foreign.map((f) => `--${f}`).join(', ')} (djq ${command} --help lists what it takes)`,
    );
  }

  const ctx = new CliContext(process.env, { aws: values.aws === true });
  const out = makeOutput(values.json === true, () => ctx.target);
  // Where it acts, said first: on stderr (for --json, the document's `target` says it).
  const { dynamodb, table, redis, source } = ctx.target;
  if (ctx.aws) {
    process.stderr.write(`djq: acting on table ${table} in ${dynamodb} (asked for with --aws or DJQ_TARGET=aws)\n`);
    const changesData = (command === 'dlq' && ['redrive', 'purge'].includes(rest[0] ?? '')) || values.rebuild;
    if (changesData && !values.yes) throw new UsageError(`this changes table ${table} in AWS: add --yes to confirm`);
  } else if (!out.json) {
    process.stderr.write(`djq: table ${table} at ${dynamodb}, Redis ${redis} (from ${source})\n`);
  }
  try {
    switch (command) {
      case 'stats':
        return await stats(ctx, out, { exact: values.exact === true });
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
        return await replay(ctx, out, {
          verify: values.verify === true,
          rebuild: values.rebuild === true,
          force: values.force === true,
        });
      case 'check':
        return await check(ctx, out);
      case 'recover':
        return await recover(ctx, out, {
          dryRun: values['dry-run'] === true,
          force: values.force === true,
          ...(values.rate !== undefined ? { rate: values.rate } : {}),
        });
      default: {
        const [action = '', ...ids] = rest;
        return await dlq(ctx, out, {
          action,
          ids,
          all: values.all === true,
          yes: values.yes === true,
          dryRun: values['dry-run'] === true,
          ...definedOnly({
            reason: values.reason,
            errorClass: values['error-class'],
            op: values.op,
            user: values.user,
            gen: values.gen,
            from: values.from,
            to: values.to,
            rate: values.rate,
            resume: values.resume,
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
      process.stderr.write(
        `djq: ${(error as Error).message}\nRun djq --help for the commands, djq <command> --help for one.\n`,
      );
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
