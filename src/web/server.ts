import fastifyCookie from "@fastify/cookie";
import type { Queue } from "bullmq";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { connectRoutes, type ConnectSettings } from "./connect/routes.js";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { NylasApi } from "../nylas/client.js";
import type { RunsQueue } from "../runs/queue.js";
import { webhookJobKey } from "../webhooks/job-mac.js";
import { webhookRoutes, type WebhookRouteDeps } from "../webhooks/routes.js";
import type { WebhooksQueue } from "../webhooks/queue.js";
import { boardRoutes, BOARD_PATH } from "./board.js";
import { checkHealth } from "./health.js";
import { metricsRoutes, METRICS_PATH } from "../metrics/routes.js";
import { LoginThrottle } from "./login-throttle.js";
import { guardOperators } from "./operator-auth.js";
import { page, PAGE_HEADERS } from "./html.js";

export interface WebDeps {
  db: Db;
  /**
   * Connection of /healthz, /metrics, sign-in states and failed-login counts: no offline
   * queue, so a dead Redis fails a request fast instead of holding it.
   */
  healthRedis: Redis;
  nylas: NylasApi;
  log: Logger;
  runsQueue: RunsQueue;
  tickQueue: Queue;
  webhooksQueue: WebhooksQueue;
  board: { user?: string; password?: string };
  webhooks: Omit<WebhookRouteDeps, "queue" | "log" | "jobKey">;
  connect: ConnectSettings;
  healthTimeoutMs?: number;
  /**
   * Proxies in front whose X-Forwarded-For entry is believed for per-client limits (Heroku's
   * router: 1). Default 0: the socket's peer.
   */
  trustedProxyHops?: number;
  /** Failed operator logins allowed per client and window (default 10 a minute). */
  operatorLogins?: { limit?: number; windowMs?: number };
  fetch?: typeof fetch;
  now?: () => Date;
}

/**
 * The web dyno's HTTP surface: Bull Board, /healthz, Nylas webhooks and the hosted-OAuth
 * connect flow. Requests are logged as method, route and status only: query strings (OAuth
 * codes) and headers (credentials, signatures) never reach a log line.
 */
export async function buildWebServer(deps: WebDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    // Probes and scrapes that succeed are routine; one line each would drown the rest.
    if ((route === "/healthz" || route === METRICS_PATH) && reply.statusCode === 200) return;
    deps.log.info(
      { method: req.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      "request",
    );
  });

  await app.register(fastifyCookie);

  app.get("/", async (_req, reply) =>
    reply
      .headers(PAGE_HEADERS)
      .send(
        page(
          "Nightly meeting reminders",
          `<p><a href="/connect">Connect your calendar</a> ` +
            `to get a reminder email for each of tomorrow's meetings.</p>\n` +
            `<p><small>Operators: <a href="${BOARD_PATH}">queues</a>, <a href="/healthz">health</a>.</small></p>`,
        ),
      ),
  );

  app.get("/healthz", async (_req, reply) => {
    const health = await checkHealth(deps.db, deps.healthRedis, deps.log, deps.healthTimeoutMs ?? 2000);
    return reply
      .code(health.ok ? 200 : 503)
      .header("cache-control", "no-store")
      .send(health);
  });

  const prefix = deps.runsQueue.opts.prefix ?? "bull";
  const throttle = new LoginThrottle(deps.healthRedis, { prefix, log: deps.log, ...deps.operatorLogins });
  const operators = { ...deps.board, log: deps.log, throttle, trustedProxyHops: deps.trustedProxyHops ?? 0 };
  const boardQueues = [deps.runsQueue, deps.tickQueue, deps.webhooksQueue];
  await app.register(async (scope) => boardRoutes(scope, { queues: boardQueues, operators }));
  await app.register(async (scope) => {
    guardOperators(scope, { ...operators, realm: "Metrics" });
    const queues = [deps.runsQueue, deps.tickQueue, deps.webhooksQueue];
    const queuePrefix = deps.runsQueue.opts.prefix ?? "bull";
    await metricsRoutes(scope, {
      db: deps.db,
      queues,
      redis: deps.healthRedis,
      queuePrefix,
      log: deps.log,
      now: deps.now,
    });
  });
  // connect.apiKey is NYLAS_API_KEY, which the worker dyno derives the same key from.
  const jobKey = webhookJobKey(deps.connect.apiKey);
  const webhooks = { ...deps.webhooks, queue: deps.webhooksQueue, jobKey, log: deps.log };
  await app.register(async (scope) => webhookRoutes(scope, webhooks));
  await app.register(async (scope) =>
    connectRoutes(scope, {
      db: deps.db,
      nylas: deps.nylas,
      runsQueue: deps.runsQueue,
      redis: deps.healthRedis,
      prefix,
      log: deps.log,
      settings: deps.connect,
      fetch: deps.fetch,
      now: deps.now,
    }),
  );

  app.setNotFoundHandler((_req, reply) => reply.code(404).type("text/plain; charset=utf-8").send("Not found"));
  return app;
}
