import type { Redis } from "ioredis";
import type { Logger } from "../log/logger.js";
import { redisWithin } from "./deadline.js";

/** Redis key of a client's failed logins in the current window. */
export function failureKey(prefix: string, client: string): string {
  return `${prefix}:operator-login-failures:${client}`;
}

export interface LoginThrottleSettings {
  /** Key prefix (the queue prefix): one count per deployment, shared by all web dynos. */
  prefix: string;
  /** Failed logins allowed per client and window. */
  limit?: number;
  windowMs?: number;
  /** Longest wait for Redis; past it the check lets the request through to the password check. */
  timeoutMs?: number;
  log: Logger;
}

/**
 * Failed operator logins per client address, in fixed windows counted in Redis so every web
 * dyno sees the same count. A client at the limit gets 429 until its window ends, whatever it
 * sends; successful logins are never counted. If Redis does not answer, the check fails open
 * (one warning): the password is still checked, and Bull Board is down with Redis anyway.
 */
export class LoginThrottle {
  readonly limit: number;
  readonly windowMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly settings: LoginThrottleSettings,
  ) {
    this.limit = settings.limit ?? 10;
    this.windowMs = settings.windowMs ?? 60_000;
    this.timeoutMs = settings.timeoutMs ?? 1000;
  }

  private key(client: string): string {
    return failureKey(this.settings.prefix, client);
  }

  /** Milliseconds until `client` may try again; 0 when it may now. */
  async blockedFor(client: string): Promise<number> {
    try {
      const key = this.key(client);
      const read = await redisWithin(this.redis, this.timeoutMs, (r) => r.multi().get(key).pttl(key).exec());
      const [count, ttl] = read ?? [];
      const failures = Number(count?.[1] ?? 0);
      const left = Number(ttl?.[1] ?? -2);
      if (failures < this.limit) return 0;
      // No expiry would lock the client out for good: treat it as a full window.
      return left > 0 ? left : this.windowMs;
    } catch (err) {
      this.settings.log.warn({ err }, "login throttle unavailable (Redis): not throttling this request");
      return 0;
    }
  }

  /** Counts one failed login; the window starts at a client's first failure. */
  async failed(client: string): Promise<void> {
    try {
      const key = this.key(client);
      // SET NX PX starts the window with its expiry; INCR keeps it.
      const countOne = (r: Redis) => r.multi().set(key, 0, "PX", this.windowMs, "NX").incr(key).exec();
      await redisWithin(this.redis, this.timeoutMs, countOne);
    } catch (err) {
      this.settings.log.warn({ err }, "login throttle unavailable (Redis): a failed login was not counted");
    }
  }
}
