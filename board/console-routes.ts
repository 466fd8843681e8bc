// The console's JSON API under /api/console, each route a thin shell over the operator console
// (shared/operator/operator-console.ts), as `djq` is: search, a job's timeline, a user's jobs, the
// charts, and DLQ actions with a dry run, a confirmation that names the exact count, a rate limit,
// progress, cancel and resume (board/bulk-runner.ts). Every POST passes the action guard
// (board/action-guard.ts: the session's CSRF token; 403 to a read-only board or login).
import express, { type ErrorRequestHandler, Router } from 'express';
import { z } from 'zod';
import { DlqActionNotFoundError, DlqActionRunningError } from '../shared/operator/dlq-actions.js';
import { type DlqPlan, type DlqWhere, whereOfSearch } from '../shared/operator/dlq-bulk.js';
import { SEARCH_STATES } from '../shared/operator/job-search.js';
import type { OperatorConsole } from '../shared/operator/operator-console.js';
import type { Logger } from '../shared/runtime/logger.js';
import { type ActionGuard, HttpError } from './action-guard.js';
import { loginOf } from './auth.js';
import type { BoardBulkRunner } from './bulk-runner.js';
import { consoleCharts } from './console-svg.js';

export { CSRF_HEADER } from './action-guard.js';

export interface ConsoleRoutesDeps {
  operator: OperatorConsole;
  /** Runs, follows, cancels and resumes the bulk actions (shared with the older /api/dlq routes). */
  runner: BoardBulkRunner;
  /** The CSRF and read-only guard (shared with the older /api/dlq routes). */
  actions: ActionGuard;
  /** Who acts: the authenticated operator (BOARD_USERNAME), recorded with every action. */
  operatorName: string;
  logger: Logger;
  /** JAEGER_UI_URL: a job's timeline links to its trace there. */
  jaegerUiUrl?: string;
  /** DLQ_ACTION_RATE_PER_SEC: the page's default "Jobs per second". */
  defaultRate: number;
}

const isoTime = z.iso.datetime({ offset: true });
const searchFields = {
  jobId: z.string().min(1).max(256).optional(),
  userId: z.string().min(1).max(256).optional(),
  state: z.enum(SEARCH_STATES).optional(),
  op: z.string().min(1).max(64).optional(),
  error: z.string().min(1).max(200).optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  gen: z.coerce.number().int().min(1).optional(),
};
const searchQuery = z
  .object({
    ...searchFields,
    limit: z.coerce.number().int().min(1).max(200).optional(),
    cursor: z.string().min(1).max(600).optional(),
  })
  .strict();

const where = z
  .object({
    jobIds: z.array(z.string().min(1).max(256)).min(1).max(10_000).optional(),
    reason: z.string().min(1).max(200).optional(),
    errorClass: z.string().min(1).max(100).optional(),
    error: z.string().min(1).max(200).optional(),
    op: z.string().min(1).max(64).optional(),
    user: z.string().min(1).max(256).optional(),
    gen: z.coerce.number().int().min(1).optional(),
    from: isoTime.optional(),
    to: isoTime.optional(),
  })
  .strict();
const rate = z.number().min(0.1).max(1000);
/**
 * What an action selects: DLQ filters (`where`), or a search's filter (`search`, state
 * dead-lettered: the page's "Redrive these"), which the operator module turns into `where`.
 */
const planBody = z
  .object({
    action: z.enum(['redrive', 'purge']),
    where: where.optional(),
    search: z.object(searchFields).strict().optional(),
  })
  .strict()
  .refine((body) => (body.where === undefined) !== (body.search === undefined), {
    message: 'give either "where" or "search"',
  })
  .refine((body) => body.search?.state === undefined || body.search.state === 'dead-lettered', {
    message: 'a search selects DLQ jobs only with state dead-lettered (or none)',
  });
const runBody = z.intersection(
  planBody,
  z.object({
    /** The count the operator confirmed: the action runs only if the selection still has exactly that many. */
    confirmCount: z.number().int().min(0),
    ratePerSecond: rate.optional(),
  }),
);
const resumeBody = z.object({ ratePerSecond: rate.optional() }).strict();

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

export function consoleRoutes(deps: ConsoleRoutesDeps): Router {
  const router = Router();
  router.use(express.json({ limit: '1mb' }));
  sessionRoute(router, deps);
  readRoutes(router, deps);
  actionRoutes(router, deps);
  router.use((req, res) => {
    res.status(404).json({ error: `no route ${req.method} /api/console${req.path}` });
  });
  router.use(errorHandler(deps.logger));
  return router;
}

/** Who the page acts as, whether it may act, the token its POSTs carry, and the default rate. */
function sessionRoute(router: Router, { actions, operatorName, defaultRate }: ConsoleRoutesDeps): void {
  router.get('/session', (_req, res) => {
    const login = loginOf(res.locals);
    const ro = actions.readOnlyFor(res.locals);
    res.json({
      operator: login?.readOnly ? `board:${login.username}` : operatorName,
      readOnly: ro,
      defaultRate,
      ...(ro ? {} : { csrfToken: actions.csrfToken }),
    });
  });
}

/** Search, a job's timeline, a user's jobs, the charts: open to every login. */
function readRoutes(router: Router, { operator, jaegerUiUrl }: ConsoleRoutesDeps): void {
  router.get('/jobs', async (req, res) => {
    const { limit, cursor, ...filter } = parse(searchQuery, req.query);
    res.json(await operator.search(defined(filter), defined({ limit, cursor })));
  });

  router.get('/jobs/:jobId', async (req, res) => {
    const timeline = await operator.timeline(req.params.jobId);
    if (!timeline) throw new HttpError(404, `no record or history of job ${req.params.jobId}`);
    const { trace } = timeline;
    res.json(
      trace && jaegerUiUrl ? { ...timeline, trace: { ...trace, url: traceUrl(jaegerUiUrl, trace.traceId) } } : timeline,
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
}

/**
 * The DLQ actions: a dry run, a run of the exact count confirmed, following, cancelling and
 * resuming an action. Every POST passes the action guard (CSRF, read-only); the list of actions is
 * a read.
 */
function actionRoutes(router: Router, { operator, runner, actions }: ConsoleRoutesDeps): void {
  const { guard } = actions;
  router.post('/dlq/plan', guard, async (req, res) => {
    const body = parse(planBody, req.body);
    res.json(await operator.planDlq(body.action, selectionOf(body)));
  });

  router.post('/dlq/run', guard, async (req, res) => {
    const body = parse(runBody, req.body);
    const where = selectionOf(body);
    const plan: DlqPlan = await operator.planDlq(body.action, where);
    if (plan.count !== body.confirmCount)
      throw new HttpError(
        409,
        `the selection holds ${plan.count} job(s) now, not the ${body.confirmCount} confirmed: run the dry run again`,
      );
    const id = await runner.start(plan, where, body.ratePerSecond);
    res.status(202).json(await found(runner, id));
  });

  router.get('/dlq/actions', async (_req, res) => {
    res.json({ actions: await runner.list() });
  });

  router.get('/dlq/actions/:id', async (req, res) => {
    res.json(await found(runner, req.params.id));
  });

  router.post('/dlq/actions/:id/cancel', guard, async (req, res) => {
    const id = String(req.params.id);
    if (!(await runner.cancel(id))) throw new HttpError(404, `no action ${id}`);
    res.json(await found(runner, id));
  });

  router.post('/dlq/actions/:id/resume', guard, async (req, res) => {
    const id = String(req.params.id);
    const { ratePerSecond } = parse(resumeBody, req.body);
    await runner.resume(id, ratePerSecond).catch(asHttpError);
    res.status(202).json(await found(runner, id));
  });
}

function selectionOf(body: z.infer<typeof planBody>): DlqWhere {
  const { state: _state, ...search } = defined(body.search ?? {});
  return body.search ? whereOfSearch(search) : defined(body.where ?? {});
}

async function found(runner: BoardBulkRunner, id: string) {
  const view = await runner.view(id);
  if (!view) throw new HttpError(404, `no action ${id} (unknown, or expired)`);
  return view;
}

/** The runner's refusals in HTTP terms. */
export function asHttpError(error: unknown): never {
  if (error instanceof DlqActionNotFoundError) throw new HttpError(404, error.message);
  if (error instanceof DlqActionRunningError) throw new HttpError(409, error.message);
  throw error;
}

/** Jaeger's page of one trace: `<base>/trace/<id>` (the id is 32 hex digits, checked by traceIdOf). */
export function traceUrl(base: string, traceId: string): string {
  return `${base.replace(/\/+$/, '')}/trace/${traceId}`;
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const e = error as Error & { type?: string; status?: number };
    if (e instanceof HttpError) res.status(e.status).json({ error: e.message });
    else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.type !== 'entity.parse.failed')
      res.status(e.status).json({ error: e.message });
    else if (e.type === 'entity.parse.failed')
      res.status(400).json({ error: `the body is not valid JSON: ${e.message}` });
    else {
      logger.error({ err: error }, 'console API request failed');
      res.status(500).json({ error: e.message || 'internal error' });
    }
  };
}
