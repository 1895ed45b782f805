import { Redis, type RedisOptions } from "ioredis";

/**
 * One ioredis connection. BullMQ workers block on Redis, so `maxRetriesPerRequest` must
 * be null; reconnects back off up to 5 s and go on for ever: a Redis restart is an outage
 * to wait out, not a reason for the process to die.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(5000, 100 * 2 ** Math.min(times, 6)),
    ...options,
  });
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
