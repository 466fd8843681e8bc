// The board's JSON API: the dead-letter queue operations `djq dlq` offers (list, show, redrive,
// purge) over HTTP, and queue counts. Redrive and purge pass the console's action guard (the CSRF
// token of GET /api/console/session; 403 on a read-only board or login) and run through the same
// rate-limited, resumable bulk runner as the console page (DLQ_ACTION_RATE_PER_SEC unless the body
// says `ratePerSecond`); the answer comes when the action is done.
import express, { type ErrorRequestHandler, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { Queues } from '../shared/lifecycle/queues.js';
import type { DlqWhere } from '../shared/operator/dlq-bulk.js';
import type { DlqConsole } from '../shared/operator/dlq-console.js';
import type { OperatorConsole } from '../shared/operator/operator-console.js';
import type { Logger } from '../shared/runtime/logger.js';
import type { ActionGuard } from './action-guard.js';
import type { BoardBulkRunner } from './bulk-runner.js';

export interface DlqRoutesDeps {
  dlq: DlqConsole;
  operator: OperatorConsole;
  runner: BoardBulkRunner;
  actions: ActionGuard;
  /** Every shard's queues (one entry unless QUEUE_SHARDS > 1): /api/stats sums them. */
  queues: Queues | readonly Queues[];
  logger: Logger;
}

/** A BullMQ job id as the DLQ keeps it; the cap only stops absurd bodies. */
const jobId = z.string().min(1, { message: 'a job id cannot be empty' }).max(256);
const jobIds = z.array(jobId).min(1, { message: 'list at least one job id' }).max(10_000);

const redriveBody = z
  .object({
    jobIds: jobIds.optional(),
    all: z.literal(true, { message: 'all must be true (or leave it out and list jobIds)' }).optional(),
    reason: z.string().min(1).optional(),
    ratePerSecond: z.number().min(0.1).max(1000).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.jobIds === undefined) === (body.all === undefined))
      ctx.addIssue({ code: 'custom', message: 'give either "jobIds": [...] or "all": true' });
    else if (body.reason !== undefined && body.all === undefined)
      ctx.addIssue({ code: 'custom', path: ['reason'], message: '"reason" filters "all": true only' });
  });

const purgeBody = z
  .object({
    jobIds: jobIds.optional(),
    all: z.literal(true, { message: 'all must be true (or leave it out and list jobIds)' }).optional(),
    confirm: z.boolean().optional(),
    ratePerSecond: z.number().min(0.1).max(1000).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.jobIds === undefined) === (body.all === undefined))
      ctx.addIssue({ code: 'custom', message: 'give either "jobIds": [...] or "all": true' });
    // Emptying the whole DLQ cannot be undone: the caller must say so twice, as `djq dlq purge --all --yes` does.
    else if (body.all && body.confirm !== true)
      ctx.addIssue({ code: 'custom', path: ['confirm'], message: 'purging every job needs "confirm": true' });
  });

class BadRequest extends Error {
  override name = 'BadRequest';
}

/** One readable message for the first problem, e.g. `jobIds.0: a job id cannot be empty`. */
function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body))
    throw new BadRequest('send a JSON object body with content-type: application/json');
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new BadRequest(`invalid body: ${where}${issue?.message ?? 'not understood'}`);
}

/** Every route under /api, this router's and /api/flow (board-server.ts): what a 404 lists. */
export const API_ROUTES = [
  'GET /api/dlq',
  'GET /api/dlq/:jobId',
  'POST /api/dlq/redrive',
  'POST /api/dlq/purge',
  'GET /api/stats',
  'GET /api/flow',
] as const;

export function dlqRoutes(deps: DlqRoutesDeps): Router {
  const router = Router();
  router.use(express.json({ limit: '1mb' }));
  dlqActions(router, deps);
  router.get('/stats', statsHandler(deps.queues));
  router.use((req, res) => {
    res.status(404).json({
      error: `no route ${req.method} /api${req.path}`,
      try: API_ROUTES,
    });
  });
  router.use(errorHandler(deps.logger));
  return router;
}

/** List, show, redrive and purge; the last two behind the action guard, at a bounded rate. */
function dlqActions(router: Router, { dlq, actions, logger, ...deps }: DlqRoutesDeps): void {
  const bulk = bulkAction(deps);
  router.get('/dlq', async (req, res) => {
    const reason = typeof req.query.reason === 'string' && req.query.reason !== '' ? req.query.reason : undefined;
    const jobs = await dlq.list(reason ? { reason } : {});
    res.json({ count: jobs.length, jobs });
  });

  router.post('/dlq/redrive', actions.guard, async (req, res) => {
    const body = parseBody(redriveBody, req.body);
    const where: DlqWhere = body.jobIds ? { jobIds: body.jobIds } : body.reason ? { reason: body.reason } : {};
    const { done: redriven, ...rest } = await bulk('redrive', where, body.jobIds, body.ratePerSecond);
    logger.info({ redriven: redriven.length, notFound: rest.notFound.length }, 'DLQ redrive over HTTP');
    res.json({ redriven, ...rest });
  });

  router.post('/dlq/purge', actions.guard, async (req, res) => {
    const body = parseBody(purgeBody, req.body);
    const where: DlqWhere = body.jobIds ? { jobIds: body.jobIds } : {};
    const { done: purged, ...rest } = await bulk('purge', where, body.jobIds, body.ratePerSecond);
    logger.info({ purged: purged.length, notFound: rest.notFound.length }, 'DLQ purge over HTTP');
    res.json({ purged, ...rest });
  });

  // After the POST routes, so `redrive` and `purge` are never read as job ids on GET.
  router.get('/dlq/:jobId', async (req, res) => {
    const entry = await dlq.show(req.params.jobId);
    if (!entry) {
      res.status(404).json({ error: `no job ${req.params.jobId} in the dead-letter queue` });
      return;
    }
    res.json(entry);
  });
}

/**
 * A plan of `where` run to its end by the board's runner; the ids asked for that the DLQ does not
 * hold are reported not found, as before. `movedOn` and `busy` are said only when non-empty.
 */
function bulkAction({ operator, runner }: Pick<DlqRoutesDeps, 'operator' | 'runner'>) {
  return async (action: 'redrive' | 'purge', where: DlqWhere, asked: readonly string[] | undefined, rate?: number) => {
    const plan = await operator.planDlq(action, where);
    const report = await runner.runToEnd(plan, where, rate);
    const planned = new Set(plan.jobIds);
    const notFound = [...report.notFound, ...(asked ?? []).filter((id) => !planned.has(id))];
    return {
      done: report.done,
      notFound: [...new Set(notFound)],
      ...(report.movedOn.length > 0 ? { movedOn: report.movedOn } : {}),
      ...(report.busy.length > 0 ? { busy: report.busy } : {}),
      actionId: report.actionId,
    };
  };
}

/** Job counts of both queues, summed over the shards (and each shard's, when there are several). */
function statsHandler(queues: DlqRoutesDeps['queues']): RequestHandler {
  const shards: readonly Queues[] = Array.isArray(queues) ? queues : [queues as Queues];
  const first = shards[0] as Queues;
  return async (_req, res) => {
    const counts = await Promise.all(
      shards.map(async (q) => ({
        operations: await q.operations.getJobCounts(),
        deadLetter: await q.deadLetter.getJobCounts(),
      })),
    );
    const total = (pick: (c: (typeof counts)[number]) => Record<string, number>) => {
      const sum: Record<string, number> = {};
      for (const c of counts) for (const [state, n] of Object.entries(pick(c))) sum[state] = (sum[state] ?? 0) + n;
      return sum;
    };
    res.json({
      operations: { name: first.operations.name, ...total((c) => c.operations) },
      deadLetter: { name: first.deadLetter.name, ...total((c) => c.deadLetter) },
      ...(shards.length > 1 ? { shards: counts } : {}),
    });
  };
}

/** Our BadRequests and express's body errors as 4xx with their message; anything else a logged 500. */
function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const e = error as Error & { type?: string; status?: number };
    if (e instanceof BadRequest) {
      res.status(400).json({ error: e.message });
    } else if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: `the body is not valid JSON: ${e.message}` });
    } else if (e.type === 'entity.too.large') {
      res.status(413).json({ error: 'the body is too large (1 MB at most)' });
    } else if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ error: e.message });
    } else {
      logger.error({ err: error }, 'board API request failed');
      res.status(500).json({ error: e.message || 'internal error' });
    }
  };
}
