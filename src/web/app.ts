import type { FastifyInstance } from "fastify";
import { requireSettings, type Config, redisTls } from "../config.js";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import { NylasApi } from "../nylas/client.js";
import { createRunsQueue, createTickQueue } from "../runs/queue.js";
import { createRedis } from "../redis/connection.js";
import { createWebhooksQueue } from "../webhooks/queue.js";
import { randomBytes } from "node:crypto";
import { adminApi } from "./admin/api.js";
import { buildWebServer } from "./server.js";
import { optOutRoutes } from "./optout/routes.js";

export interface WebApp {
  server: FastifyInstance;
  /** `http://host:port` the server listens on. */
  url: string;
  /** Stops accepting connections, finishes in-flight requests, closes Redis. */
  close(graceMs?: number): Promise<void>;
}

export interface WebAppOptions {
  db: Db;
  /** Listen here instead of PORT (0 = any free port; tests). */
  port?: number;
  host?: string;
  fetch?: typeof fetch;
  now?: () => Date;
}

/** What the web dyno cannot run without, checked before anything connects. */
export function checkWebConfig(config: Config): void {
  if (config.NODE_ENV === "production") {
    requireSettings(config, ["BULL_BOARD_USER", "BULL_BOARD_PASSWORD"], "for Bull Board in production");
    if (config.NYLAS_CLIENT_ID) requireSettings(config, ["SESSION_SECRET", "PUBLIC_URL"], "for /connect in production");
  } else if ((config.BULL_BOARD_USER === undefined) !== (config.BULL_BOARD_PASSWORD === undefined)) {
    requireSettings(config, ["BULL_BOARD_USER", "BULL_BOARD_PASSWORD"], "together");
  }
}

export async function startWebApp(config: Config, log: Logger, options: WebAppOptions): Promise<WebApp> {
  checkWebConfig(config);
  const port = options.port ?? config.PORT;
  const host = options.host ?? "0.0.0.0";
  const connection = createRedis(config.REDIS_URL, { connectionName: "nr-web", ...redisTls(config) }, log);
  const healthRedis = createRedis(
    config.REDIS_URL,
    { connectionName: "nr-web-health", enableOfflineQueue: false, maxRetriesPerRequest: 1, ...redisTls(config) },
    log,
  );

  const runsQueue = createRunsQueue(connection, { prefix: config.QUEUE_PREFIX, attempts: config.JOB_ATTEMPTS, log });
  const tickQueue = createTickQueue(connection, config.QUEUE_PREFIX, log);
  const webhooksQueue = createWebhooksQueue(connection, config.QUEUE_PREFIX, log);
  const nylas = new NylasApi({
    apiKey: config.NYLAS_API_KEY,
    apiUri: config.NYLAS_API_URI,
    timeout: config.NYLAS_TIMEOUT_S,
  });

  let sessionSecret = config.SESSION_SECRET;
  if (!sessionSecret) {
    sessionSecret = randomBytes(32).toString("base64url");
    if (config.NYLAS_CLIENT_ID)
      log.warn(
        "SESSION_SECRET is not set: using a random one, " +
          "so a sign-in started before a restart (or on another web dyno) fails",
      );
  }
  const publicUrl = (config.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, "");
  if (!config.NYLAS_CLIENT_ID) log.warn("NYLAS_CLIENT_ID is not set: /connect is disabled");
  if (!config.NYLAS_WEBHOOK_SECRET) log.warn("NYLAS_WEBHOOK_SECRET is not set: /webhooks/nylas refuses every delivery");

  const server = await buildWebServer({
    db: options.db,
    healthRedis,
    nylas,
    log,
    runsQueue,
    tickQueue,
    webhooksQueue,
    board: { user: config.BULL_BOARD_USER, password: config.BULL_BOARD_PASSWORD },
    webhooks: { secret: config.NYLAS_WEBHOOK_SECRET },
    connect: {
      clientId: config.NYLAS_CLIENT_ID,
      apiKey: config.NYLAS_API_KEY,
      apiUri: config.NYLAS_API_URI,
      sessionSecret,
      redirectUri: `${publicUrl}/connect/callback`,
      defaultTimeZone: config.DEFAULT_TIME_ZONE,
      defaultSendHour: config.DEFAULT_SEND_HOUR,
    },
    // Production runs behind Heroku's router, which appends the client's address as the last
    // X-Forwarded-For entry; the dyno is reachable through the router only.
    trustedProxyHops: config.NODE_ENV === "production" ? 1 : 0,
    fetch: options.fetch,
    now: options.now,
  });
  await server.register(adminApi({ config, db: options.db, redis: healthRedis, log, now: options.now }));

  await server.register((scope) => optOutRoutes(scope, { db: options.db, log, secret: config.UNSUBSCRIBE_SECRET }));

  let address: string;
  try {
    address = await server.listen({ port, host });
  } catch (err) {
    await Promise.allSettled([server.close(), runsQueue.close(), tickQueue.close(), webhooksQueue.close()]);
    connection.disconnect();
    healthRedis.disconnect();
    throw err;
  }
  const url = address.replace("0.0.0.0", "127.0.0.1");
  log.info({ url, publicUrl, board: `${publicUrl}/admin/queues` }, "web listening");

  return {
    server,
    url,
    async close(graceMs = 20_000) {
      // In-flight requests finish; idle keep-alive connections are dropped at once.
      const closed = server.close().then(() => true);
      const inTime = await Promise.race([
        closed,
        new Promise<boolean>((r) => setTimeout(() => r(false), graceMs).unref()),
      ]);
      if (!inTime) {
        log.warn("requests still running after the grace period; closing anyway");
        server.server.closeAllConnections();
      }
      await Promise.allSettled([runsQueue.close(), tickQueue.close(), webhooksQueue.close()]);
      await Promise.allSettled([connection.quit(), healthRedis.quit()]);
    },
  };
}
