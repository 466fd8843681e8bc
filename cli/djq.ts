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
import { makeOutput, type Output } from './output.js';
import { COMMANDS, COMMON_FLAGS, commandHelp, USAGE } from './usage.js';

/** djq's flags by kind (each command takes those cli/usage.ts lists for it, and COMMON_FLAGS). */
const BOOLEAN_FLAGS = ['json', 'all', 'yes', 'verify', 'rebuild', 'force', 'exact', 'dry-run', 'aws'] as const;
const STRING_FLAGS = [
  ...['id', 'user', 'state', 'op', 'error', 'error-class', 'reason', 'from', 'to', 'gen'], // what selects jobs
  ...['rate', 'limit', 'cursor', 'resume'],
] as const;

type Options = { [F in (typeof BOOLEAN_FLAGS)[number]]: { type: 'boolean' } } & {
  [F in (typeof STRING_FLAGS)[number]]: { type: 'string' };
} & { help: { type: 'boolean'; short: 'h' } };

const OPTIONS = {
  ...Object.fromEntries(BOOLEAN_FLAGS.map((flag) => [flag, { type: 'boolean' }])),
  ...Object.fromEntries(STRING_FLAGS.map((flag) => [flag, { type: 'string' }])),
  help: { type: 'boolean', short: 'h' },
} as Options;

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

type Values = ReturnType<typeof parse>['values'];

/** The options given (exactOptionalPropertyTypes: an absent option is no key, not `undefined`). */
function definedOnly<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: string };
}

/** Runs one command: its positionals after the command's name (`rest`) and the flags. */
type CommandRun = (ctx: CliContext, out: Output, rest: string[], values: Values) => Promise<number>;

/** Each command of cli/usage.ts's COMMANDS, called with what it takes from the command line. */
const RUNS: Record<string, CommandRun> = {
  stats: (ctx, out, _rest, values) => stats(ctx, out, { exact: values.exact === true }),
  find: (ctx, out, _rest, values) =>
    find(
      ctx,
      out,
      definedOnly({
        ...{ id: values.id, user: values.user, state: values.state, op: values.op, error: values.error },
        ...{ from: values.from, to: values.to, gen: values.gen, limit: values.limit, cursor: values.cursor },
      }),
    ),
  history: (ctx, out, rest, values) => history(ctx, out, rest, values.user),
  migrate: (ctx, out) => migrate(ctx, out),
  replay: (ctx, out, _rest, values) =>
    replay(ctx, out, {
      verify: values.verify === true,
      rebuild: values.rebuild === true,
      force: values.force === true,
    }),
  check: (ctx, out) => check(ctx, out),
  recover: (ctx, out, _rest, values) =>
    recover(ctx, out, {
      dryRun: values['dry-run'] === true,
      force: values.force === true,
      ...(values.rate !== undefined ? { rate: values.rate } : {}),
    }),
  dlq: (ctx, out, rest, values) => {
    const [action = '', ...ids] = rest;
    return dlq(ctx, out, {
      ...{ action, ids, all: values.all === true, yes: values.yes === true, dryRun: values['dry-run'] === true },
      ...definedOnly({ reason: values.reason, errorClass: values['error-class'], op: values.op }),
      ...definedOnly({ user: values.user, gen: values.gen, resume: values.resume }),
      ...definedOnly({ from: values.from, to: values.to, rate: values.rate }),
    });
  },
};

/** The command's run, or a UsageError naming the nearest known command. */
function knownCommand(command: string): CommandRun {
  const run = COMMANDS[command] ? RUNS[command] : undefined;
  if (run) return run;
  const known = Object.keys(COMMANDS);
  const near = nearest(command, known);
  throw new UsageError(`unknown command "${command}"${near ? `: did you mean "${near}"?` : ''} (${known.join(', ')})`);
}

/** A UsageError for flags given that the command does not take. */
function rejectForeignFlags(command: string, values: Values): void {
  const takes = [...(COMMANDS[command]?.flags ?? []), ...COMMON_FLAGS];
  const given = Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  const foreign = given.filter((k) => !takes.includes(k));
  if (foreign.length > 0) {
    throw new UsageError(
      `djq ${command} does not take ${foreign.map((f) => `--${f}`).join(', ')} (djq ${command} --help lists what it takes)`,
    );
  }
}

/** Where it acts, said first: on stderr (for --json, the document's `target` says it). */
function announceTarget(ctx: CliContext, out: Output, command: string, rest: string[], values: Values): void {
  const { dynamodb, table, redis, source } = ctx.target;
  if (ctx.aws) {
    process.stderr.write(`djq: acting on table ${table} in ${dynamodb} (asked for with --aws or DJQ_TARGET=aws)\n`);
    const changesData = (command === 'dlq' && ['redrive', 'purge'].includes(rest[0] ?? '')) || values.rebuild;
    if (changesData && !values.yes) throw new UsageError(`this changes table ${table} in AWS: add --yes to confirm`);
  } else if (!out.json) {
    process.stderr.write(`djq: table ${table} at ${dynamodb}, Redis ${redis} (from ${source})\n`);
  }
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
  const runCommand = knownCommand(command);
  if (wantsHelp) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  rejectForeignFlags(command, values);

  const ctx = new CliContext(process.env, { aws: values.aws === true });
  const out = makeOutput(values.json === true, () => ctx.target);
  announceTarget(ctx, out, command, rest, values);
  try {
    return await runCommand(ctx, out, rest, values);
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
    // Not every error's code is a string (ioredis and the AWS SDK set others): only Node's parseArgs codes count.
    const code = (error as { code?: unknown }).code;
    const usage = error instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
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
