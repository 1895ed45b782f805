import type { Redis } from "ioredis";

/**
 * Per-grant request budgets shared by every worker process, kept in Redis.
 *
 * The algorithm is GCRA (a virtual-scheduling token bucket): each key stores the
 * "theoretical arrival time" of the next allowed request, and each request moves it one
 * emission interval (1 / rate) further. With a burst of 1 this spaces requests evenly, so
 * no one-second window (sliding, not only aligned) ever holds more than `rate` requests;
 * that is how providers count (Gmail's ~2 sends/s per user). A fixed-window counter, such
 * as rate-limiter-flexible's Redis limiter, admits up to twice the budget across a window
 * boundary and only has whole-second windows, which is why this small script is used.
 *
 * The clock is Redis' own (TIME), so workers on machines with skewed clocks agree.
 */

const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
if tat < now then tat = now end
local allowAt = tat - tolerance
if allowAt > now then return allowAt - now end
local nextTat = tat + interval
redis.call('SET', KEYS[1], nextTat, 'PX', math.ceil(nextTat - now) + 1000)
return 0
`;

const BLOCK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if untilMs > current then redis.call('SET', KEYS[1], untilMs, 'PX', tonumber(ARGV[1]) + 1000) end
return math.max(untilMs, current) - now
`;

export type Budget = "read" | "send";

export interface Rate {
  /** Requests per second. */
  perSecond: number;
  /** Requests allowed back to back before spacing applies (1 = strictly even). */
  burst?: number;
  /**
   * Extra ms between two requests. Tokens are spaced exactly in Redis time, but requests
   * reach the provider with network and event-loop jitter; a small margin keeps the
   * provider's own count (by arrival) under the budget too.
   */
  marginMs?: number;
}

export interface LimiterSettings {
  prefix: string;
  read: Rate;
  send: Rate;
  /** Send budgets by provider name ("google", "microsoft", ...), overriding `send`. */
  sendByProvider?: Record<string, Rate>;
}

type ScriptClient = Redis & {
  grantTake(keyA: string, keyB: string, interval: number, burst: number): Promise<number>;
  grantBlock(key: string, ms: number): Promise<number>;
};

export class GrantLimiter {
  private readonly redis: ScriptClient;

  constructor(
    redis: Redis,
    private readonly settings: LimiterSettings,
  ) {
    if (!(redis as unknown as Partial<ScriptClient>).grantTake) {
      redis.defineCommand("grantTake", { numberOfKeys: 2, lua: TAKE });
      redis.defineCommand("grantBlock", { numberOfKeys: 1, lua: BLOCK });
    }
    this.redis = redis as unknown as ScriptClient;
  }

  rateFor(budget: Budget, provider?: string): Rate {
    if (budget === "read") return this.settings.read;
    return (provider && this.settings.sendByProvider?.[provider]) || this.settings.send;
  }

  /**
   * Takes one request from the grant's budget. Returns 0 when taken, otherwise how many
   * ms to wait before asking again (nothing is taken then).
   */
  async take(grantId: string, budget: Budget, provider?: string): Promise<number> {
    const rate = this.rateFor(budget, provider);
    const interval = Math.max(1, Math.ceil(1000 / rate.perSecond + (rate.marginMs ?? 0)));
    return Number(await this.redis.grantTake(this.key(grantId, budget), this.blockKey(grantId), interval, Math.max(1, rate.burst ?? 1)));
  }

  /** Holds back every request of the grant for `ms` (after a 429). Returns the ms left. */
  async block(grantId: string, ms: number): Promise<number> {
    return Number(await this.redis.grantBlock(this.blockKey(grantId), Math.max(1, Math.ceil(ms))));
  }

  private key(grantId: string, budget: Budget): string {
    return `${this.settings.prefix}:rl:${budget}:${grantId}`;
  }

  private blockKey(grantId: string): string {
    return `${this.settings.prefix}:rl:block:${grantId}`;
  }
}

/** Exponential back-off with jitter: random in [base / 2, min(cap, base * 2^attempt)]. */
export function backoffWithJitter(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(baseMs / 2 + random() * (ceiling - baseMs / 2));
}
