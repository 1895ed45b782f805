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
 *
 * Spacing tokens is not enough when the provider counts requests by *arrival*: a request
 * can sit in an event loop or a socket between its token and the wire, and two requests
 * spaced 500 ms apart at the token can arrive 60 ms apart. A `serial` budget therefore
 * allows one request in flight per grant and starts the next interval only when the
 * previous request has answered (`settle`): the answer comes after the arrival, and the
 * next request leaves after the answer plus one interval, so arrivals are at least one
 * interval apart whatever the jitter. The price is a per-grant rate of
 * 1 / (latency + interval) instead of 1 / interval; jobs of other grants run meanwhile.
 * An in-flight mark whose request never settles (the process died) lapses after a lease.
 */

const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local lease = tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
if lease > 0 then
  local busy = redis.call('PTTL', KEYS[3])
  -- Another request is in flight: poll again soon (its answer moves the schedule).
  if busy > 0 then return math.max(1, math.min(busy, math.floor(interval / 5))) end
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowAt = tat - tolerance
if allowAt > now then return allowAt - now end
local nextTat = tat + interval
redis.call('SET', KEYS[1], nextTat, 'PX', math.ceil(nextTat - now) + 1000)
if lease > 0 then redis.call('SET', KEYS[3], '1', 'PX', lease) end
return 0
`;

const SETTLE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
redis.call('DEL', KEYS[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local nextTat = math.max(tat, now + interval)
redis.call('SET', KEYS[1], nextTat, 'PX', math.ceil(nextTat - now) + 1000)
return nextTat - now
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
  /**
   * One request in flight per grant, the next one interval after the previous answer
   * (see above): the budget then holds by arrival at the provider. `burst` is ignored.
   */
  serial?: boolean;
}

export interface LimiterSettings {
  prefix: string;
  read: Rate;
  send: Rate;
  /** Send budgets by provider name ("google", "microsoft", ...), overriding `send`. */
  sendByProvider?: Record<string, Rate>;
  /** How long an unsettled serial request blocks the next one (ms); above the request timeout. */
  inFlightLeaseMs?: number;
}

type ScriptClient = Redis & {
  grantTake(tatKey: string, blockKey: string, flightKey: string, interval: number, burst: number, leaseMs: number): Promise<number>;
  grantSettle(tatKey: string, flightKey: string, interval: number): Promise<number>;
  grantBlock(key: string, ms: number): Promise<number>;
};

export class GrantLimiter {
  private readonly redis: ScriptClient;

  constructor(
    redis: Redis,
    private readonly settings: LimiterSettings,
  ) {
    if (!(redis as unknown as Partial<ScriptClient>).grantTake) {
      redis.defineCommand("grantTake", { numberOfKeys: 3, lua: TAKE });
      redis.defineCommand("grantSettle", { numberOfKeys: 2, lua: SETTLE });
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
    const lease = rate.serial ? Math.max(1, this.settings.inFlightLeaseMs ?? 60_000) : 0;
    const burst = rate.serial ? 1 : Math.max(1, rate.burst ?? 1);
    return Number(await this.redis.grantTake(this.key(grantId, budget), this.blockKey(grantId), this.flightKey(grantId, budget), intervalOf(rate), burst, lease));
  }

  /**
   * The request that took a token has answered (or failed). For a serial budget this ends
   * its flight and starts the next interval now; for the others it costs nothing.
   */
  async settle(grantId: string, budget: Budget, provider?: string): Promise<void> {
    const rate = this.rateFor(budget, provider);
    if (!rate.serial) return;
    await this.redis.grantSettle(this.key(grantId, budget), this.flightKey(grantId, budget), intervalOf(rate));
  }

  /** Holds back every request of the grant for `ms` (after a 429). Returns the ms left. */
  async block(grantId: string, ms: number): Promise<number> {
    return Number(await this.redis.grantBlock(this.blockKey(grantId), Math.max(1, Math.ceil(ms))));
  }

  private key(grantId: string, budget: Budget): string {
    return `${this.settings.prefix}:rl:${budget}:${grantId}`;
  }

  private flightKey(grantId: string, budget: Budget): string {
    return `${this.settings.prefix}:rl:flight:${budget}:${grantId}`;
  }

  private blockKey(grantId: string): string {
    return `${this.settings.prefix}:rl:block:${grantId}`;
  }
}

function intervalOf(rate: Rate): number {
  return Math.max(1, Math.ceil(1000 / rate.perSecond + (rate.marginMs ?? 0)));
}

/** Exponential back-off with jitter: random in [base / 2, min(cap, base * 2^attempt)]. */
export function backoffWithJitter(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(baseMs / 2 + random() * (ceiling - baseMs / 2));
}
