import { createHash, timingSafeEqual } from "node:crypto";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import type { Queue } from "bullmq";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../log/logger.js";

export const BOARD_PATH = "/admin/queues";

export interface BoardSettings {
  queues: Queue[];
  /** Both set: basic auth. Neither (development only): loopback clients only. */
  user?: string;
  password?: string;
  log: Logger;
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

/** Bull Board over every queue, in its own scope behind basic auth. */
export async function boardRoutes(app: FastifyInstance, settings: BoardSettings): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: settings.queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: "Nightly reminders" } },
  });

  const { user, password } = settings;
  const deny = (reply: FastifyReply) =>
    reply.code(401).headers({ "www-authenticate": 'Basic realm="Bull Board", charset="UTF-8"', "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).send("Unauthorized");
  if (user && password) {
    // Checked here, before Bull Board's own routes and error handler: a failed login gets
    // 401 and nothing else, whichever page or API route was asked for.
    app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
      const given = parseBasic(req.headers.authorization);
      if (!given || !credentialsMatch(given.user, given.password, user, password)) return deny(reply);
    });
  } else {
    settings.log.warn("Bull Board has no credentials (BULL_BOARD_USER/BULL_BOARD_PASSWORD): serving it to loopback clients only");
    app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
      if (!isLoopback(req.socket.remoteAddress ?? "")) return deny(reply);
    });
  }
  await app.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
}
