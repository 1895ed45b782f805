import type { Redis } from "ioredis";
import type { Db } from "../db/client.js";
import { PING } from "../db/sql.js";
import type { Logger } from "../log/logger.js";
import { DeadlineError, redisWithin, within } from "./deadline.js";

/** What /healthz says of one dependency: nothing about hosts, databases or drivers. */
export type DependencyState = "ok" | "unavailable" | "timeout";

export interface Health {
  ok: boolean;
  redis: DependencyState;
  postgres: DependencyState;
}

function stateOf(r: PromiseSettledResult<unknown>): DependencyState {
  if (r.status === "fulfilled") return "ok";
  return r.reason instanceof DeadlineError ? "timeout" : "unavailable";
}

/**
 * Pings both stores in parallel, each with a short timeout. The answer is public, so it only
 * names the state; the reason (which may hold host and database names) goes to the log, whose
 * error serializer scrubs passwords.
 */
export async function checkHealth(db: Db, redis: Redis, log: Logger, timeoutMs = 2000): Promise<Health> {
  const [r, p] = await Promise.allSettled([
    redisWithin(redis, timeoutMs, (c) => c.ping()),
    within(db.$queryRawUnsafe(PING), timeoutMs, "Postgres"),
  ]);
  const health: Health = { ok: false, redis: stateOf(r), postgres: stateOf(p) };
  health.ok = health.redis === "ok" && health.postgres === "ok";
  if (r.status === "rejected") {
    log.warn({ err: r.reason, dependency: "redis" }, `health check: Redis ${health.redis}`);
  }
  if (p.status === "rejected") {
    log.warn({ err: p.reason, dependency: "postgres" }, `health check: Postgres ${health.postgres}`);
  }
  return health;
}
