// Command-line flags of `npm start`, parsed strictly: an unknown or malformed flag is one clear error.
import { parseFlags } from '../shared/runtime/flags.js';

export interface StackArgs {
  workers: number;
  maxOperations?: number;
  untilDrained: boolean;
  /** With --until-drained: seconds before giving up (exit 1). */
  timeout?: number;
  dataDir?: string;
  /** Read and write capacity units per second of the capacity-limited DynamoDB in front of dynalite. */
  capacity?: number;
  interval?: number;
  perTick?: number;
  json: boolean;
  help: boolean;
}

export const STACK_USAGE = `Usage: npm start -- [options]

Runs the whole system on one machine: Redis (the one REDIS_URL, REDIS_CLUSTER_NODES or
REDIS_SENTINELS names, refused if it does not answer; with none set, a redis-server of its own in a
temp directory removed on exit), DynamoDB (AWS_ENDPOINT_URL_DYNAMODB, refused if it does not answer;
unset, a dynalite of its own), one producer, N workers and the board.

Example: npm start -- --workers 4 --max-operations 1000 --per-tick 10 --until-drained

Options:
  --workers N           worker processes (default 2)
  --max-operations N    stop producing after N jobs (MAX_OPERATIONS)
  --until-drained       exit 0 once every produced job is completed or dead-lettered,
                        printing one JSON line last: {"produced":…,"completed":…,"deadLettered":…}
  --timeout S           with --until-drained: give up after S seconds, exit 1 with "drained":false
                        in the last line (default: the producing time + 300 s)
  --interval MS         producer tick interval (OPERATION_INTERVAL_MS, default 3000)
  --per-tick N          jobs per tick (OPERATIONS_PER_TICK, default 1)
  --data-dir PATH       keep dynalite's data on disk there (default: in memory)
  --capacity N          give the embedded dynalite a table-wide budget of N read and N write
                        capacity units per second, throttled over budget as DynamoDB does
                        (not with AWS_ENDPOINT_URL_DYNAMODB)
  --json                summary lines as JSON instead of text
  -h, --help            this help

Everything else is configured by environment variables: see .env.example.`;

function positiveInt(flag: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new Error(`${flag} needs a whole number >= ${min}, got "${value}"`);
  return Number(value);
}

export function parseStackArgs(argv: string[]): StackArgs {
  const { values, positionals } = parseFlags({
    args: argv,
    allowPositionals: true,
    options: {
      workers: { type: 'string' },
      'max-operations': { type: 'string' },
      'until-drained': { type: 'boolean', default: false },
      timeout: { type: 'string' },
      'data-dir': { type: 'string' },
      capacity: { type: 'string' },
      interval: { type: 'string' },
      'per-tick': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  const workers = positiveInt('--workers', values.workers) ?? 2;
  if (workers > 64) throw new Error('--workers: at most 64 on one machine');
  const args: StackArgs = { workers, untilDrained: values['until-drained'], json: values.json, help: values.help };
  const maxOperations = positiveInt('--max-operations', values['max-operations']);
  if (maxOperations !== undefined) args.maxOperations = maxOperations;
  const interval = positiveInt('--interval', values.interval);
  if (interval !== undefined) args.interval = interval;
  const perTick = positiveInt('--per-tick', values['per-tick']);
  if (perTick !== undefined) args.perTick = perTick;
  const timeout = positiveInt('--timeout', values.timeout);
  if (timeout !== undefined) {
    if (!values['until-drained']) throw new Error('--timeout goes with --until-drained');
    args.timeout = timeout;
  }
  const capacity = positiveInt('--capacity', values.capacity);
  if (capacity !== undefined) args.capacity = capacity;
  if (values['data-dir'] !== undefined) args.dataDir = values['data-dir'];
  return args;
}
