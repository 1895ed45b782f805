import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log/logger.js";
import { logErrors } from "./error-log.js";

/**
 * One ioredis connection. BullMQ workers block on Redis, so `maxRetriesPerRequest` must
 * be null; reconnects back off up to 5 s and go on for ever: a Redis restart is an outage
 * to wait out, not a reason for the process to die. With a logger, its errors are logged
 * (throttled, see error-log.ts) and its return after an outage too; the product always
 * passes one.
 */
export function createRedis(url: string, options: RedisOptions = {}, log?: Logger): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(5000, 100 * 2 ** Math.min(times, 6)),
    ...options,
  });
  if (log) {
    const source = `redis ${options.connectionName ?? "connection"}`;
    logErrors(redis, log, source);
    let failing = false;
    redis.on("error", () => (failing = true));
    redis.on("ready", () => {
      if (failing) log.info({ source }, `${source}: connected again`);
      failing = false;
    });
  }
  return redis;
}

/** Resolves when Redis answers PING, or rejects with one line after `timeoutMs`. */
export async function pingRedis(redis: Redis, timeoutMs = 3000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
