import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../../log/logger.js";
import type { LoginThrottle } from "../login-throttle.js";
import { beforeLogin, credentialsMatch, OPERATOR_HEADERS, parseBasic } from "../operator-auth.js";

/** Who may call the admin JSON API. */
export interface AdminAuthSettings {
  /** ADMIN_API_TOKEN: `Authorization: Bearer <token>`. */
  token?: string;
  /** The operators' basic auth (BULL_BOARD_USER/PASSWORD), when both are set. */
  user?: string;
  password?: string;
  throttle: LoginThrottle;
  trustedProxyHops: number;
  log: Logger;
}

const digest = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** Constant-time: both sides hashed first, so neither content nor length leaks. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** `Authorization: Bearer <token>`; undefined when absent or another scheme. */
export function parseBearer(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}

/** Whether any credential is configured: without one the API is off (404). */
export function adminApiEnabled(s: Pick<AdminAuthSettings, "token" | "user" | "password">): boolean {
  return Boolean(s.token || (s.user && s.password));
}

const json = (reply: FastifyReply, status: number, error: string) => reply.code(status).send({ error });

/**
 * Guards every route of the scope, in `onRequest`: a bearer token or the operators' basic
 * auth, failed attempts throttled per client (the count Bull Board's guard keeps). Basic
 * credentials ride along on cross-site requests, so a change must come from the same origin;
 * the routes also take JSON bodies only, which a cross-site form cannot send. Answers carry
 * the operator pages' headers (never cached, framed or referred).
 */
export function guardAdminApi(scope: FastifyInstance, s: AdminAuthSettings): void {
  scope.addHook("onSend", async (_req, reply, payload) => {
    reply.headers(OPERATOR_HEADERS);
    return payload;
  });
  const schemes = [...(s.token ? ["Bearer"] : []), ...(s.user && s.password ? ['Basic realm="Admin API"'] : [])];
  scope.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
    if (!adminApiEnabled(s))
      return json(reply, 404, "the admin API is off: set ADMIN_API_TOKEN (or BULL_BOARD_USER and BULL_BOARD_PASSWORD)");
    const before = await beforeLogin(req, reply, s.throttle, s.trustedProxyHops);
    if ("crossOrigin" in before) return json(reply, 403, `cross-origin request refused (${before.crossOrigin})`);
    if ("throttledS" in before)
      return json(reply, 429, `too many failed logins from this address; try again in ${before.throttledS} s`);
    const { client } = before;
    const header = req.headers.authorization;
    const bearer = parseBearer(header);
    if (bearer !== undefined && s.token && tokenMatches(bearer, s.token)) return;
    const basic = parseBasic(header);
    if (basic && s.user && s.password && credentialsMatch(basic.user, basic.password, s.user, s.password)) return;
    if (header !== undefined) {
      await s.throttle.failed(client);
      s.log.warn({ realm: "Admin API", client }, "admin API login failed");
    }
    return reply
      .code(401)
      .header("www-authenticate", schemes.join(", "))
      .send({ error: "unauthorized: send Authorization: Bearer <ADMIN_API_TOKEN> or the operators' basic auth" });
  });
}
