import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../log/logger.js";
import { clientAddress } from "./client-address.js";
import type { LoginThrottle } from "./login-throttle.js";
import { crossOriginProblem, isLoopbackAddress, isLoopbackHost, isSafeMethod } from "./request-origin.js";

/** Who may open the operator pages (Bull Board, /metrics). */
export interface OperatorAuthSettings {
  /** Both set: basic auth. Neither (development only): this machine's browser only. */
  user?: string;
  password?: string;
  log: Logger;
  /** Names the pages in the browser's login prompt. */
  realm: string;
  /** Failed logins per client address, shared by every web dyno. */
  throttle: LoginThrottle;
  /** X-Forwarded-For entries added by proxies we trust (Heroku's router: 1); 0: the socket's peer. */
  trustedProxyHops: number;
}

/** On every answer under the guard, refusals included: never framed, cached or referred. */
export const OPERATOR_HEADERS = {
  "content-security-policy": "frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
} as const;

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/**
 * What every guard checks before it looks at credentials: a change from another origin
 * (basic credentials ride along on cross-site requests, so only reads may come from
 * elsewhere), and a client throttled for failed logins (its `Retry-After` set on the reply).
 * Otherwise the client's address, for counting a failure.
 */
export async function beforeLogin(
  req: FastifyRequest,
  reply: FastifyReply,
  throttle: LoginThrottle,
  trustedProxyHops: number,
): Promise<{ crossOrigin: string } | { throttledS: number } | { client: string }> {
  const problem = isSafeMethod(req.method) ? undefined : crossOriginProblem(req.headers);
  if (problem) return { crossOrigin: problem };
  const client = clientAddress(req.socket.remoteAddress, req.headers["x-forwarded-for"], trustedProxyHops);
  const waitMs = await throttle.blockedFor(client);
  if (waitMs <= 0) return { client };
  const seconds = Math.ceil(waitMs / 1000);
  reply.header("retry-after", String(seconds));
  return { throttledS: seconds };
}

/** Constant-time credential check: both values are hashed first, so lengths never leak. */
export function credentialsMatch(
  user: string,
  password: string,
  expectedUser: string,
  expectedPassword: string,
): boolean {
  const userOk = timingSafeEqual(digest(user), digest(expectedUser));
  const passOk = timingSafeEqual(digest(password), digest(expectedPassword));
  return userOk && passOk;
}

/** `Authorization: Basic base64(user:password)`; undefined when absent or malformed. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const text = (reply: FastifyReply, status: number, body: string) =>
  reply.code(status).type("text/plain; charset=utf-8").send(body);

const LOCAL_ONLY =
  "Forbidden: without BULL_BOARD_USER and BULL_BOARD_PASSWORD the operator pages answer only to a browser on " +
  "this machine at http://localhost (or 127.0.0.1, [::1])";

/**
 * Guards every route of the scope it is added to, in `onRequest`, before the routes' own
 * handlers and error handlers. With credentials: basic auth, failed logins throttled per
 * client, and no cross-origin request may change anything. Without (development only): the
 * client must be on this machine, name it in Host and, if it says where it comes from,
 * come from the same origin; a DNS-rebinding page fails the Host check.
 */
export function guardOperators(scope: FastifyInstance, settings: OperatorAuthSettings): void {
  const { user, password, throttle } = settings;
  scope.addHook("onSend", async (_req, reply, payload) => {
    reply.headers(OPERATOR_HEADERS);
    return payload;
  });

  if (!(user && password)) {
    scope.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
      const local = isLoopbackAddress(req.socket.remoteAddress) && isLoopbackHost(req.headers.host);
      if (!local) return text(reply, 403, LOCAL_ONLY);
      const problem = crossOriginProblem(req.headers);
      if (problem) return text(reply, 403, `Forbidden: cross-origin request (${problem})`);
    });
    return;
  }

  const challenge = `Basic realm="${settings.realm}", charset="UTF-8"`;
  scope.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
    const before = await beforeLogin(req, reply, throttle, settings.trustedProxyHops);
    if ("crossOrigin" in before) return text(reply, 403, `Forbidden: cross-origin request (${before.crossOrigin})`);
    if ("throttledS" in before)
      return text(reply, 429, `Too many failed logins from this address; try again in ${before.throttledS} s`);
    const { client } = before;
    const header = req.headers.authorization;
    const given = parseBasic(header);
    if (given && credentialsMatch(given.user, given.password, user, password)) return;
    // A first visit without credentials is the browser asking for the prompt, not a failure.
    if (header !== undefined) {
      await throttle.failed(client);
      settings.log.warn({ realm: settings.realm, client }, "operator login failed");
    }
    return reply.code(401).header("www-authenticate", challenge).type("text/plain; charset=utf-8").send("Unauthorized");
  });
}
