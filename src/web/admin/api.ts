import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import type { Redis } from "ioredis";
import type { Config } from "../../config.js";
import type { Db } from "../../db/client.js";
import { settingsDefaults } from "../../grants/settings.js";
import type { Logger } from "../../log/logger.js";
import { LoginThrottle } from "../login-throttle.js";
import { adminApiEnabled, guardAdminApi } from "./api-auth.js";
import { settingsRoutes } from "./settings-routes.js";

export const ADMIN_API_PATH = "/admin/api";

export interface AdminApiDeps {
  config: Pick<
    Config,
    | "ADMIN_API_TOKEN"
    | "BULL_BOARD_USER"
    | "BULL_BOARD_PASSWORD"
    | "DEFAULT_LOCALE"
    | "REMINDER_POLICY"
    | "NODE_ENV"
    | "QUEUE_PREFIX"
  >;
  db: Db;
  /** For the failed-login counts (shared with the operator pages' guard). */
  redis: Redis;
  log: Logger;
  now?: () => Date;
}

/**
 * The admin JSON API of the web dyno, under /admin/api, as one plugin (README: "Per-user
 * settings"). Its own scope: the guard, the JSON error shape and the 404 apply to it alone.
 */
export function adminApi(deps: AdminApiDeps): FastifyPluginAsync {
  const { config, log } = deps;
  const auth = {
    token: config.ADMIN_API_TOKEN,
    user: config.BULL_BOARD_USER,
    password: config.BULL_BOARD_PASSWORD,
  };
  const plugin = async (scope: FastifyInstance): Promise<void> => {
    if (!adminApiEnabled(auth)) log.warn("the admin API is off: neither ADMIN_API_TOKEN nor BULL_BOARD_USER/PASSWORD");
    guardAdminApi(scope, {
      ...auth,
      throttle: new LoginThrottle(deps.redis, { prefix: config.QUEUE_PREFIX, log }),
      // Heroku's router appends the client's address (see src/web/app.ts).
      trustedProxyHops: config.NODE_ENV === "production" ? 1 : 0,
      log,
    });
    scope.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
      const status = err.statusCode ?? 500;
      if (status < 500) return reply.code(status).send({ error: String(err.message).split("\n")[0]!.slice(0, 200) });
      log.error({ err }, "admin API request failed");
      return reply.code(500).send({ error: "internal error" });
    });
    scope.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: "no such route" }));
    await settingsRoutes(scope, { db: deps.db, defaults: settingsDefaults(config), now: deps.now });
  };
  return async (app) => {
    await app.register(plugin, { prefix: ADMIN_API_PATH });
  };
}
