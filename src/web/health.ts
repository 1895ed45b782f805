import type { Redis } from "ioredis";
import type { Db } from "../db/client.js";
import { pingRedis } from "../queue/redis.js";

export interface Health {
  ok: boolean;
  redis: string;
  postgres: string;
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function oneLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).replace(/\s+/g, " ").slice(0, 200);
}

/** PING; a connection still (re)connecting gets until the deadline to become ready. */
async function pingWithin(redis: Redis, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  if (redis.status !== "ready") {
    let onReady: (() => void) | undefined;
    try {
      await within(new Promise<void>((resolve) => redis.once("ready", (onReady = resolve))), ms, "Redis");
    } finally {
      if (onReady) redis.off("ready", onReady);
    }
  }
  await pingRedis(redis, Math.max(1, deadline - Date.now()));
}

/** Pings both stores in parallel, each with a short timeout; "ok" or what went wrong. */
export async function checkHealth(db: Db, redis: Redis, timeoutMs = 2000): Promise<Health> {
  const [r, p] = await Promise.allSettled([pingWithin(redis, timeoutMs), within(db.$queryRaw`SELECT 1`, timeoutMs, "Postgres")]);
  const redisState = r.status === "fulfilled" ? "ok" : oneLine(r.reason);
  // Connection errors can echo the URL; keep the reason, never the credentials.
  const pgState = p.status === "fulfilled" ? "ok" : oneLine(p.reason).replace(/postgres(ql)?:\/\/\S+/gi, "postgres://…");
  return { ok: redisState === "ok" && pgState === "ok", redis: redisState, postgres: pgState };
}
