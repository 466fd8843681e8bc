// Basic auth in front of the board (Bull Board has none of its own), and the loopback test that
// decides whether an open board deserves a loud warning.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { RequestHandler } from 'express';

export interface Credentials {
  username: string;
  password: string;
}

/** A login the board accepts, and whether it may act (redrive, purge) or only look. */
export interface Login extends Credentials {
  readOnly: boolean;
}

/** What basicAuth leaves in `res.locals.login` for the routes after it. */
export interface AuthenticatedLogin {
  username: string;
  readOnly: boolean;
}

/** The login of this request (set by basicAuth), if the board has logins. */
export const loginOf = (locals: Record<string, unknown>): AuthenticatedLogin | undefined =>
  locals.login as AuthenticatedLogin | undefined;

/** Hashing first gives equal-length buffers, so timingSafeEqual never leaks a length difference. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Reads `Authorization: Basic base64(user:password)`; undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): Credentials | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Answers 401 with a `WWW-Authenticate` challenge unless the request carries one login's
 * credentials, and leaves that login in `res.locals.login`. Every part of every login is always
 * compared, so the answer takes as long for a wrong user as a wrong password.
 */
export function basicAuth(logins: readonly Login[], options: { open?: readonly string[] } = {}): RequestHandler {
  const open = new Set(options.open ?? []);
  return (req, res, next) => {
    if (open.has(req.path)) return next();
    const given = parseBasicAuth(req.headers.authorization);
    let matched: Login | undefined;
    for (const login of logins) {
      const userOk = sameSecret(given?.username ?? '', login.username);
      const passwordOk = sameSecret(given?.password ?? '', login.password);
      if (given && userOk && passwordOk) matched ??= login;
    }
    if (matched) {
      res.locals.login = { username: matched.username, readOnly: matched.readOnly } satisfies AuthenticatedLogin;
      return next();
    }
    res
      .status(401)
      .set('WWW-Authenticate', 'Basic realm="djq board", charset="UTF-8"')
      .json({ error: 'authentication required: use the board username and password (BOARD_USERNAME)' });
  };
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h.startsWith('::ffff:127.');
  return false;
}
