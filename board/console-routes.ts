// The console's JSON API under /api/console, each route a thin shell over the operator console
// (shared/operator/operator-console.ts), as `djq` is: search, a job's timeline, a user's jobs, the
// charts, and DLQ actions with a dry run, a confirmation that names the exact count, a rate limit,
// progress and cancel. Every POST carries the session's CSRF token (a browser sends basic-auth
// credentials with any site's form post; it cannot read the token from another origin); a
// read-only board answers 403 to every action.
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { BulkReport, DlqPlan } from '../shared/operator/dlq-bulk.js';
import { SEARCH_STATES } from '../shared/operator/job-search.js';
import type { OperatorConsole } from '../shared/operator/operator-console.js';
import type { Logger } from '../shared/runtime/logger.js';
import { loginOf } from './auth.js';
import { consoleCharts } from './console-svg.js';

export interface ConsoleRoutesDeps {
  operator: OperatorConsole;
  /** Who acts: the authenticated operator (BOARD_USERNAME), recorded with every action. */
  operatorName: string;
  readOnly: boolean;
  logger: Logger;
  /** JAEGER_UI_URL: a job's timeline links to its trace there. */
  jaegerUiUrl?: string;
  /** Jobs per second of a bulk action unless the request asks for fewer. @default 10 */
  defaultRate?: number;
}

export const CSRF_HEADER = 'x-csrf-token';

const isoTime = z.iso.datetime({ offset: true });
const searchQuery = z
  .object({
    jobId: z.string().min(1).max(256).optional(),
    userId: z.string().min(1).max(256).optional(),
    state: z.enum(SEARCH_STATES).optional(),
    op: z.string().min(1).max(64).optional(),
    error: z.string().min(1).max(200).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
    gen: z.coerce.number().int().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(200).optional(),
    cursor: z.string().min(1).max(600).optional(),
  })
  .strict();

const where = z
  .object({
    jobIds: z.array(z.string().min(1).max(256)).min(1).max(10_000).optional(),
    reason: z.string().min(1).max(200).optional(),
    errorClass: z.string().min(1).max(100).optional(),
    op: z.string().min(1).max(64).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
  })
  .strict();
const planBody = z.object({ action: z.enum(['redrive', 'purge']), where }).strict();
const runBody = planBody
  .extend({
    /** The count the operator confirmed: the action runs only if the selection still has exactly that many. */
    confirmCount: z.number().int().min(0),
    ratePerSecond: z.number().positive().max(1000).optional(),
  })
  .strict();

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new HttpError(
    400,
    `invalid request: ${issue?.path.join('.') || '(body)'}: ${issue?.message ?? 'not understood'}`,
  );
}

/** Drops keys whose value is undefined (exactOptionalPropertyTypes). */
function defined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

interface RunningAction {
  id: string;
  action: 'redrive' | 'purge';
  by: string;
  total: number;
  done: number;
  startedAt: string;
  finished: boolean;
  report?: BulkReport;
  error?: string;
  abort: AbortController;
}

/** Finished actions kept for their progress page at most. */
const KEEP_ACTIONS = 50;

export function consoleRoutes(deps: ConsoleRoutesDeps): Router {
  const { operator, operatorName, readOnly, logger } = deps;
  const router = Router();
  const csrfToken = randomBytes(24).toString('base64url');
  const actions = new Map<string, RunningAction>();
  router.use(express.json({ limit: '1mb' }));

  // Read-only: the whole board (BOARD_READ_ONLY), or this request's login (BOARD_READONLY_USERNAME).
  const readOnlyFor = (locals: Record<string, unknown>) => readOnly || loginOf(locals)?.readOnly === true;
  const guarded: RequestHandler = (req, res, next) => {
    if (readOnly) throw new HttpError(403, 'the board is read-only (BOARD_READ_ONLY=true): actions are turned off');
    if (readOnlyFor(res.locals))
      throw new HttpError(403, `the login ${loginOf(res.locals)?.username ?? ''} is read-only: actions are turned off`);
    const given = Buffer.from(String(req.get(CSRF_HEADER) ?? ''));
    const expected = Buffer.from(csrfToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new HttpError(403, `missing or wrong ${CSRF_HEADER} header: reload the console page`);
    next();
  };

  router.get('/session', (_req, res) => {
    const login = loginOf(res.locals);
    const ro = readOnlyFor(res.locals);
    res.json({
      operator: login?.readOnly ? `board:${login.username}` : operatorName,
      readOnly: ro,
      ...(ro ? {} : { csrfToken }),
    });
  });

  router.get('/jobs', async (req, res) => {
    const { limit, cursor, ...filter } = parse(searchQuery, req.query);
    res.json(await operator.search(defined(filter), defined({ limit, cursor })));
  });

  router.get('/jobs/:jobId', async (req, res) => {
    const timeline = await operator.timeline(req.params.jobId);
    if (!timeline) throw new HttpError(404, `no record or history of job ${req.params.jobId}`);
    const { trace } = timeline;
    res.json(
      trace && deps.jaegerUiUrl
        ? { ...timeline, trace: { ...trace, url: traceUrl(deps.jaegerUiUrl, trace.traceId) } }
        : timeline,
    );
  });

  router.get('/users/:userId/jobs', async (req, res) => {
    res.json({ userId: req.params.userId, jobs: await operator.userJobs(req.params.userId) });
  });

  router.get('/charts', async (req, res) => {
    const minutes = parse(
      z.object({ minutes: z.coerce.number().int().min(5).max(1440).optional() }),
      req.query,
    ).minutes;
    const series = await operator.charts(minutes ?? 60);
    res.json({ ...series, svg: consoleCharts(series) });
  });

  router.post('/dlq/plan', guarded, async (req, res) => {
    const body = parse(planBody, req.body);
    res.json(await operator.planDlq(body.action, defined(body.where)));
  });

  router.post('/dlq/run', guarded, async (req, res) => {
    const body = parse(runBody, req.body);
    const plan: DlqPlan = await operator.planDlq(body.action, defined(body.where));
    if (plan.count !== body.confirmCount)
      throw new HttpError(
        409,
        `the selection holds ${plan.count} job(s) now, not the ${body.confirmCount} confirmed: run the dry run again`,
      );
    const running: RunningAction = {
      id: randomUUID(),
      action: body.action,
      by: operatorName,
      total: plan.count,
      done: 0,
      startedAt: new Date().toISOString(),
      finished: false,
      abort: new AbortController(),
    };
    remember(actions, running);
    logger.info({ action: body.action, jobs: plan.count, by: operatorName }, 'console DLQ action started');
    // Runs on after the answer: the page follows it through GET /dlq/actions/:id.
    operator
      .runDlq(plan, {
        ratePerSecond: body.ratePerSecond ?? deps.defaultRate ?? 10,
        signal: running.abort.signal,
        onProgress: ({ done }) => {
          running.done = done;
        },
      })
      .then(
        (report) => {
          running.report = report;
        },
        (error: unknown) => {
          running.error = (error as Error).message;
          logger.error({ err: error }, 'console DLQ action failed');
        },
      )
      .finally(() => {
        running.finished = true;
      });
    res.status(202).json(view(running));
  });

  router.get('/dlq/actions/:id', (req, res) => {
    const running = actions.get(req.params.id);
    if (!running) throw new HttpError(404, `no action ${req.params.id}`);
    res.json(view(running));
  });

  router.post('/dlq/actions/:id/cancel', guarded, (req, res) => {
    const running = actions.get(String(req.params.id));
    if (!running) throw new HttpError(404, `no action ${req.params.id}`);
    running.abort.abort();
    res.json(view(running));
  });

  router.use((req, res) => {
    res.status(404).json({ error: `no route ${req.method} /api/console${req.path}` });
  });
  router.use(errorHandler(logger));
  return router;
}

/** Jaeger's page of one trace: `<base>/trace/<id>` (the id is 32 hex digits, checked by traceIdOf). */
export function traceUrl(base: string, traceId: string): string {
  return `${base.replace(/\/+$/, '')}/trace/${traceId}`;
}

function remember(actions: Map<string, RunningAction>, running: RunningAction): void {
  actions.set(running.id, running);
  for (const [id, a] of actions) {
    if (actions.size <= KEEP_ACTIONS) break;
    if (a.finished) actions.delete(id);
  }
}

function view(a: RunningAction) {
  const { abort: _abort, ...shown } = a;
  return shown;
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const e = error as Error & { type?: string; status?: number };
    if (e instanceof HttpError) res.status(e.status).json({ error: e.message });
    else if (e.type === 'entity.parse.failed')
      res.status(400).json({ error: `the body is not valid JSON: ${e.message}` });
    else {
      logger.error({ err: error }, 'console API request failed');
      res.status(500).json({ error: e.message || 'internal error' });
    }
  };
}
