import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../log/logger.js";

/** Who may open the operator pages (Bull Board, /metrics). */
export interface OperatorAuthSettings {
  /** Both set: basic auth. Neither (development only): loopback clients only. */
  user?: string;
  password?: string;
  log: Logger;
  /** Names the pages in the browser's login prompt. */
  realm: string;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Constant-time credential check: both values are hashed first, so lengths never leak. */
export function credentialsMatch(user: string, password: string, expectedUser: string, expectedPassword: string): boolean {
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

function isLoopback(ip: string): boolean {
  return ip === "127.0.0.1" || ip === "::1" || ip === "::ffff:127.0.0.1";
}

/**
 * Guards every route of the scope it is added to. Checked in `onRequest`, before the
 * routes' own handlers and error handlers: a refused request gets 401 and nothing else.
 */
export function guardOperators(scope: FastifyInstance, settings: OperatorAuthSettings): void {
  const { user, password } = settings;
  const deny = (reply: FastifyReply) =>
    reply
      .code(401)
      .headers({
        "www-authenticate": `Basic realm="${settings.realm}", charset="UTF-8"`,
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
      })
      .send("Unauthorized");
  if (user && password) {
    scope.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
      const given = parseBasic(req.headers.authorization);
      if (!given || !credentialsMatch(given.user, given.password, user, password)) return deny(reply);
    });
  } else {
    scope.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
      if (!isLoopback(req.socket.remoteAddress ?? "")) return deny(reply);
    });
  }
}
