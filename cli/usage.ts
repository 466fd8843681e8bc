// djq's help: one text for the whole tool, one per command (each with an example), and the nearest
// known name for a mistyped command or flag.

export const COMMON_FLAGS = ['json', 'aws', 'help'] as const;

export interface CommandHelp {
  /** The flags this command takes besides COMMON_FLAGS. */
  flags: readonly string[];
  text: string;
}

const COMMON = `Every command takes:
  --json      one JSON object on stdout
  --aws       act on the table in real AWS (never done unasked; also DJQ_TARGET=aws)
  -h, --help  this help`;

export const COMMANDS: Record<string, CommandHelp> = {
  stats: {
    flags: ['exact'],
    text: `Usage: djq stats [--exact]

Queue counts by state, the dead-letter queue's size, DynamoDB flow control and the table's size
(approximate, from DescribeTable). --exact counts events and users with full-table scans instead.

Example:
  npm run -s djq -- stats --exact`,
  },
  find: {
    flags: ['id', 'user', 'state', 'op', 'error', 'from', 'to', 'gen', 'limit', 'cursor'],
    text: `Usage: djq find [--id ID] [--user ID] [--state S] [--op NAME] [--error TEXT] [--from T] [--to T]
                [--gen N] [--limit N] [--cursor C]

Jobs from DynamoDB's records, long-pruned ones included. S is waiting, active, delayed, completed,
dead-lettered or purged; T an ISO time or 15m/2h/3d ago; --error matches the error class or reason
text; --gen the redrive generation. Pages with --cursor (the previous page's next cursor).

Example:
  npm run -s djq -- find --state dead-lettered --from 2h --json`,
  },
  history: {
    flags: ['user'],
    text: `Usage: djq history <jobId>
       djq history --user <userId>

A job's timeline: every attempt with its error and duration, put-backs, the dead-letter move with
its reason, redrives and purges with who did them and when (DynamoDB's record), and the effect in
DynamoDB. --user lists every job that touched that user, in order.

Examples:
  npm run -s djq -- history 1234
  npm run -s djq -- history --user 5f0c…`,
  },
  dlq: {
    flags: ['all', 'yes', 'reason', 'error-class', 'op', 'user', 'gen', 'from', 'to', 'dry-run', 'rate', 'resume'],
    text: `Usage: djq dlq list [--reason TEXT]
       djq dlq show <jobId>
       djq dlq redrive <jobId…> | --all | [--reason TEXT] [--error-class C] [--op NAME] [--user U]
                       [--gen N] [--from T] [--to T] [--dry-run] [--rate N]
       djq dlq purge <same selection> --yes
       djq dlq redrive|purge --resume <actionId> [--rate N]
       djq dlq actions

The dead-letter queue: list its jobs with their reasons, show one (payload and every attempt's
error), put jobs back on the queue under their idempotency key (redrive), or delete them for good
(purge needs --yes). Select by ids, --all, or filters; --dry-run counts, samples, groups the
reasons and warns when a reason is not retryable (a poison job fails again); --rate N jobs per
second (DLQ_ACTION_RATE_PER_SEC, 10), with progress; Ctrl-C stops between jobs. --user selects the
jobs that touch a user, --gen the generation (1 until the first redrive), both from DynamoDB's job
records. Each action is kept in Redis a week: --resume <actionId> finishes one that stopped,
skipping the jobs it settled and any job redriven since its plan (its generation moved on), so no
job is redriven twice; \`djq dlq actions\` lists them.

Examples:
  npm run -s djq -- dlq list --reason throttled
  npm run -s djq -- dlq redrive --reason throttled --dry-run`,
  },
  replay: {
    flags: ['verify', 'rebuild', 'force', 'yes'],
    text: `Usage: djq replay --verify
       djq replay --rebuild [--force]

--verify folds every user's events and compares the result with the users table.
--rebuild rewrites the users table from the events. Workers writing beside it would race the
rewrite, so it refuses while any worker is live (BullMQ's list of workers on the queue); --force
rebuilds anyway. Both refuse when Redis and the table belong to different runs (their epochs differ).

Examples:
  npm run -s djq -- replay --verify
  npm run -s djq -- replay --rebuild`,
  },
  check: {
    flags: [],
    text: `Usage: djq check

The ledger: every job enqueued in its window completed or dead-lettered, none lost, none applied
twice, and every projection row equal to the fold of its events. Exits 1 when not.

Example:
  npm run -s djq -- check --json`,
  },
  migrate: {
    flags: [],
    text: `Usage: djq migrate

Brings a table of an earlier release to the current schema: adds the indexes the console's search
needs, fills their keys on old records, and records the schema version. Services refuse an older
table and say to run this (or migrate it themselves with CREATE_TABLES=true).

Example:
  npm run -s djq -- migrate`,
  },
  recover: {
    flags: ['dry-run', 'rate', 'force'],
    text: `Usage: djq recover [--dry-run] [--rate N] [--force]

Rebuilds Redis from DynamoDB's job records after Redis lost data (FLUSHALL, a new empty server, a
failover that dropped the last writes): re-enqueues every accepted job with no outcome that no
queue holds, and puts back the DLQ entries of dead-lettered jobs. Never touches a job that
completed, was dead-lettered or purged; safe while workers run, and to run twice.

  --dry-run   say what it would do, change nothing
  --rate N    re-enqueue at most N jobs per second
  --force     act even when Redis and the table belong to different runs (their epochs differ)

Example:
  npm run -s djq -- recover --dry-run`,
  },
};

export const USAGE = `Usage: djq <command> [options]      (from a checkout: npm run -s djq -- <command>)

Commands:
  stats [--exact]                     queue counts by state, DLQ size, table size (approximate;
                                      --exact counts events and users with full-table scans)
  find [--id|--user|--state|--op|--error|--from|--to|--gen …]
                                      jobs from DynamoDB's records, pruned ones included
  history <jobId> | --user <userId>   a job's timeline, or every job that touched a user
  dlq list [--reason TEXT]            dead-lettered jobs with their reasons
  dlq show <jobId>                    one dead-lettered job: payload and every attempt's error
  dlq redrive <jobId…> | --all | [filters] [--dry-run] [--rate N]
                                      put jobs back on the queue under their idempotency key
  dlq purge <same selection> --yes    delete dead-lettered jobs for good
  dlq redrive|purge --resume <id>     finish an action that stopped (never redrives a job twice)
  dlq actions                         the redrive and purge actions kept, to resume one
  replay --verify                     fold every user's events and compare with the users table
  replay --rebuild [--force]          rewrite the users table from the events (refused while workers are live)
  check                               the ledger: every job completed or dead-lettered, none lost or twice
  recover [--dry-run] [--rate N]      re-enqueue accepted jobs Redis lost (DynamoDB's records say which)
  migrate                             bring a table of an earlier release to the current schema

djq <command> --help shows a command's options and an example.

Where djq acts: REDIS_URL and AWS_ENDPOINT_URL_DYNAMODB if set, else the npm start stack running in
this directory. It never acts on real AWS unasked: add --aws (or set DJQ_TARGET=aws) for that.

Example:
  npm run -s djq -- stats

Exit codes: 0 ok, 1 the command found a problem (or failed), 2 bad usage or configuration.`;

export function commandHelp(command: string): string {
  return `${COMMANDS[command]?.text ?? USAGE}\n\n${COMMON}`;
}
