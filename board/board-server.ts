// The board service: Bull Board for the operations and dead-letter queues at /admin/queues, the
// operator console at /console (docs/console.md), the DLQ JSON API, /metrics, /healthz and
// /readyz, behind basic auth and an optional read-only switch.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import { createDynamoClients, type DynamoClients, withoutFaults } from '../shared/dynamo/client.js';
import { describeTable } from '../shared/dynamo/table.js';
import { queueKeys } from '../shared/lifecycle/keys.js';
import { readMinuteSeries } from '../shared/lifecycle/minute-series.js';
import type { Queues } from '../shared/lifecycle/queues.js';
import { logTransitions } from '../shared/lifecycle/transition-log.js';
import { DlqActionStore } from '../shared/operator/dlq-actions.js';
import { OperatorConsole } from '../shared/operator/operator-console.js';
import type { Config } from '../shared/runtime/config.js';
import type { Logger } from '../shared/runtime/logger.js';
import { runReadiness } from '../shared/runtime/probe-server.js';
import type { RedisConnection } from '../shared/runtime/redis.js';
import { createDynamoStores } from '../shared/store/index.js';
import { requireSchema } from '../shared/store/migrate.js';
import { openShardedSystem, type ShardedJobSystem } from '../shared/wiring.js';
import { actionGuard } from './action-guard.js';
import { basicAuth, isLoopback, type Login } from './auth.js';
import { BoardBulkRunner } from './bulk-runner.js';
import { CONSOLE_CSS, CONSOLE_HTML, CONSOLE_JS } from './console-page.js';
import { consoleRoutes } from './console-routes.js';
import { DeadLetterAdapter } from './dead-letter-adapter.js';
import { dlqRoutes } from './dlq-routes.js';
import { FlowAwareAdapter, FlowStatus } from './flow-status.js';
import { QueueMetrics } from './queue-metrics.js';

/** Where Bull Board is mounted; its adapter's base path must be the same, or its assets 404. */
export const BOARD_PATH = '/admin/queues';

/** The operator console page (board/console-page.ts), linked from Bull Board's header. */
export const CONSOLE_PATH = '/console';

/** Container probes answer without credentials: an orchestrator has none. */
const OPEN_PATHS = ['/healthz', '/readyz'] as const;

export interface BoardDeps {
  config: Config;
  /** Shared by the queues; the caller owns it and closes it after `close()`. */
  redis: RedisConnection;
  logger: Logger;
  /** @default config.BOARD_HOST */
  host?: string;
  /** 0 picks a free port. @default config.BOARD_PORT */
  port?: number;
}

export interface Board {
  /** The Bull Board page, e.g. http://127.0.0.1:3000/admin/queues */
  url: string;
  /** Scheme, host and port, for the API routes, e.g. http://127.0.0.1:3000 */
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** A URL a person can open: a wildcard bind is reachable on loopback, and IPv6 needs brackets. */
function originFor(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
}

/** What the board reads and acts through: the stores, every shard's queues and lifecycle, gauges, flow. */
interface BoardSystem {
  dynamo: DynamoClients;
  system: ShardedJobSystem;
  queues: Queues[];
  metrics: QueueMetrics;
  flow: FlowStatus;
  close(): Promise<void>;
}

export async function startBoard(deps: BoardDeps): Promise<Board> {
  const { config, logger } = deps;
  const host = deps.host ?? config.BOARD_HOST;
  const port = deps.port ?? config.BOARD_PORT;
  const auth = boardLogins(config);
  await checkSchema(config);
  const board = openBoardSystem(deps);
  const server = createServer(boardApp(deps, board, auth));
  try {
    await listen(server, port, host);
  } catch (error) {
    await board.close();
    throw new Error(`board could not listen on ${host}:${port}: ${(error as Error).message}`, { cause: error });
  }
  const bound = (server.address() as AddressInfo).port;
  const origin = originFor(host, bound);
  if (!isLoopback(host) && !auth) warnUnprotected(logger, host, bound, config.BOARD_READ_ONLY);
  return {
    url: `${origin}${BOARD_PATH}`,
    origin,
    port: bound,
    async close() {
      // Browsers keep connections alive: without closing them, server.close() would wait for their timeout.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await board.close();
    },
  };
}

/**
 * Refuses to start on a table of an earlier schema (the console's search needs its indexes), or
 * migrates it when CREATE_TABLES=true, as the other services do. A missing or unreachable table is
 * /readyz's to report, not a reason not to start.
 */
async function checkSchema(config: Config): Promise<void> {
  const clients = createDynamoClients(withoutFaults(config));
  try {
    await requireSchema(clients, config.DYNAMODB_TABLE_NAME, {
      migrate: config.CREATE_TABLES,
      unreadable: 'ignore',
      retentionDays: config.HISTORY_RETENTION_DAYS,
    });
  } finally {
    clients.close();
  }
}

/** The board's logins: the operator's (BOARD_USERNAME), and a read-only one; undefined: no auth. */
export function boardLogins(
  config: Pick<Config, 'BOARD_USERNAME' | 'BOARD_PASSWORD' | 'BOARD_READONLY_USERNAME' | 'BOARD_READONLY_PASSWORD'>,
): Login[] | undefined {
  const logins: Login[] = [];
  if (config.BOARD_USERNAME !== undefined && config.BOARD_PASSWORD !== undefined)
    logins.push({ username: config.BOARD_USERNAME, password: config.BOARD_PASSWORD, readOnly: false });
  if (config.BOARD_READONLY_USERNAME !== undefined && config.BOARD_READONLY_PASSWORD !== undefined)
    logins.push({ username: config.BOARD_READONLY_USERNAME, password: config.BOARD_READONLY_PASSWORD, readOnly: true });
  return logins.length > 0 ? logins : undefined;
}

/** Who the board acts as: the authenticated operator (one basic-auth login), else just 'board'. */
export function boardOperator(config: Pick<Config, 'BOARD_USERNAME'>): string {
  return config.BOARD_USERNAME !== undefined ? `board:${config.BOARD_USERNAME}` : 'board';
}

function openBoardSystem({ config, redis, logger }: BoardDeps): BoardSystem {
  // Injected faults are for the workers' demos: the board's reads, probes and DLQ actions go without.
  const dynamo = createDynamoClients(withoutFaults(config));
  // The DLQ actions are lifecycle transitions like any other: under the job's lock, in the ledger and history.
  const system = openShardedSystem({
    config,
    redis,
    stores: createDynamoStores(dynamo, config),
    logger,
    actor: boardOperator(config),
  });
  for (const shard of system.shards) logTransitions(shard.lifecycle, logger);
  const queues = system.shards.map((s) => s.queues);
  const metrics = new QueueMetrics({
    queues,
    onError: (error) => logger.warn({ err: error }, 'queue gauges not collected: Redis did not answer'),
  });
  const flow = new FlowStatus(system.shards.map((s) => s.readFlow));
  return {
    dynamo,
    system,
    queues,
    metrics,
    flow,
    async close() {
      flow.close();
      metrics.close();
      await system.close();
      dynamo.close();
    },
  };
}

/** The routes: probes and metrics, the flow and DLQ API, Bull Board, all behind basic auth when set. */
function boardApp(
  { config, redis, logger }: BoardDeps,
  board: BoardSystem,
  auth: Login[] | undefined,
): express.Express {
  const { dynamo, queues, metrics, flow } = board;
  const app = express();
  app.disable('x-powered-by');
  if (auth) app.use(basicAuth(auth, { open: OPEN_PATHS }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const result = await runReadiness({
      redis: () => redis.ping(),
      dynamodb: () => describeTable(dynamo.client, config.DYNAMODB_TABLE_NAME),
    });
    res.status(result.ready ? 200 : 503).json(result);
  });
  app.get('/metrics', async (_req, res) => {
    const { contentType, text } = await metrics.metrics();
    res.type(contentType).send(text);
  });
  app.get('/api/flow', (_req, res) => {
    res.json({ shards: flow.all() });
  });
  app.use(CONSOLE_PATH, consolePage());
  mountApis(app, { config, redis, logger }, board);
  app.use(BOARD_PATH, withoutWebFonts, bullBoard(config, queues, flow).getRouter());
  app.get('/', (_req, res) => {
    res.redirect(BOARD_PATH);
  });
  return app;
}

/** The console's API and the older DLQ API, sharing one action guard and one bulk runner. */
function mountApis(app: express.Express, { config, redis, logger }: BoardDeps, board: BoardSystem): void {
  const { queues } = board;
  const operator = new OperatorConsole({
    stores: board.system.stores,
    queues,
    dlq: board.system.console,
    actions: new DlqActionStore(redis, queueKeys(config, 0)),
    activity: (minutes, now) => readMinuteSeries(redis, [queueKeys(config, 0)], minutes, now),
    historyRetentionDays: config.HISTORY_RETENTION_DAYS,
  });
  // One guard and one runner for both APIs: the same CSRF token, the same rate, one list of actions.
  const actions = actionGuard(config.BOARD_READ_ONLY);
  const operatorName = boardOperator(config);
  const runner = new BoardBulkRunner({
    operator,
    operatorName,
    defaultRate: config.DLQ_ACTION_RATE_PER_SEC,
    logger: logger.child({ component: 'dlq-actions' }),
  });
  app.use(
    '/api/console',
    consoleRoutes({
      operator,
      runner,
      actions,
      operatorName,
      defaultRate: config.DLQ_ACTION_RATE_PER_SEC,
      ...(config.JAEGER_UI_URL ? { jaegerUiUrl: config.JAEGER_UI_URL } : {}),
      logger: logger.child({ component: 'console' }),
    }),
  );
  app.use(
    '/api',
    dlqRoutes({
      dlq: board.system.console,
      operator,
      runner,
      actions,
      queues,
      logger: logger.child({ component: 'board-api' }),
    }),
  );
}

/**
 * Bull Board as a view only: its own actions (retry, remove, clean, promote) change a job without
 * its transition lock and without the ledger, so a retry could race a dead-letter move and a clean
 * of the failed set would lose jobs on their way to the DLQ. Actions go through the operator
 * console: djq dlq, or POST /api/dlq/*. Shards share their queue names, so each shard's pair is
 * listed under `<QUEUE_NAME>.shard-<n>.` (Bull Board groups names by '.').
 */
function bullBoard(config: Config, queues: readonly Queues[], flow: FlowStatus): ExpressAdapter {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  const sharded = queues.length > 1;
  createBullBoard({
    queues: queues.flatMap((shard, i) => {
      const parts = sharded ? { prefix: `${config.QUEUE_NAME}.shard-${i}.`, delimiter: '.' } : {};
      const of = sharded ? ` (shard ${i} of ${queues.length})` : '';
      return [
        new FlowAwareAdapter(
          shard.operations,
          {
            readOnlyMode: true,
            description: `DynamoDB operation jobs: retried with backoff, dead-lettered when they fail for good${of}`,
            ...parts,
          },
          () => flow.line(i),
        ),
        new DeadLetterAdapter(shard.deadLetter, {
          readOnlyMode: true,
          description: `Jobs that failed for good; redrive or purge them with djq dlq or POST /api/dlq/*${of}`,
          ...parts,
        }),
      ];
    }),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: `djq ${config.QUEUE_NAME}`,
        miscLinks: [{ text: 'Console: find jobs', url: CONSOLE_PATH }],
      },
    },
  });
  return serverAdapter;
}

/** The console page and its two assets, with a policy that allows nothing from elsewhere. */
function consolePage(): express.Router {
  const router = express.Router();
  const send =
    (type: string, body: string): express.RequestHandler =>
    (_req, res) => {
      res
        .type(type)
        .set(
          'Content-Security-Policy',
          "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        )
        .set('Cache-Control', 'no-store')
        .send(body);
    };
  router.get('/', send('html', CONSOLE_HTML));
  router.get('/console.js', send('js', CONSOLE_JS));
  router.get('/console.css', send('css', CONSOLE_CSS));
  return router;
}

/**
 * Bull Board's page links Google Fonts and has no option to leave it out: offline, the page waits
 * for the fetch to fail before it shows. Its HTML goes out without that link (the system font is used).
 */
const withoutWebFonts: express.RequestHandler = (_req, res, next) => {
  const send = res.send.bind(res);
  // Its page only (rendered HTML goes out with no type set yet): its API's JSON, jobs' data
  // included, is passed through untouched.
  res.send = (body?: unknown) => {
    const type = String(res.get('Content-Type') ?? 'text/html');
    const html = typeof body === 'string' && type.startsWith('text/html');
    return send(html ? body.replace(/<link[^>]*fonts\.(googleapis|gstatic)\.com[^>]*>\s*/g, '') : body);
  };
  next();
};

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function warnUnprotected(logger: Logger, host: string, port: number, readOnly: boolean): void {
  logger.warn(
    { host, port },
    `!!! The board listens on ${host}, beyond loopback, WITHOUT authentication: anyone who can reach port ${port} ` +
      `can see every job${readOnly ? '' : ' and redrive or purge the dead-letter queue'}. ` +
      'Set BOARD_USERNAME and BOARD_PASSWORD, or BOARD_HOST=127.0.0.1. !!!',
  );
}
