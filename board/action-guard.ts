// The one guard every board action passes (the console's /api/console/dlq/* and the older
// /api/dlq/redrive|purge): not on a read-only board, not by a read-only login, and only with the
// session's CSRF token (a browser sends basic-auth credentials with any site's form post; another
// origin cannot read the token from GET /api/console/session).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { loginOf } from './auth.js';

export const CSRF_HEADER = 'x-csrf-token';

/** An error the board's JSON APIs answer with its status and message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ActionGuard {
  /** Hand to sessions that may act (GET /api/console/session). */
  csrfToken: string;
  /** Whether this request's login may only look: the whole board read-only, or a read-only login. */
  readOnlyFor(locals: Record<string, unknown>): boolean;
  /** Express middleware: 403 unless the request may act and carries the token. */
  guard: RequestHandler;
}

/** One per board process: its token lives as long as the process (the page fetches it on load). */
export function actionGuard(readOnly: boolean): ActionGuard {
  const csrfToken = randomBytes(24).toString('base64url');
  const readOnlyFor = (locals: Record<string, unknown>) => readOnly || loginOf(locals)?.readOnly === true;
  const guard: RequestHandler = (req, res, next) => {
    if (readOnly) throw new HttpError(403, 'the board is read-only (BOARD_READ_ONLY=true): actions are turned off');
    if (readOnlyFor(res.locals))
      throw new HttpError(403, `the login ${loginOf(res.locals)?.username ?? ''} is read-only: actions are turned off`);
    const given = Buffer.from(String(req.get(CSRF_HEADER) ?? ''));
    const expected = Buffer.from(csrfToken);
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new HttpError(
        403,
        `missing or wrong ${CSRF_HEADER} header: take the token from GET /api/console/session (or reload the console page)`,
      );
    next();
  };
  return { csrfToken, readOnlyFor, guard };
}
