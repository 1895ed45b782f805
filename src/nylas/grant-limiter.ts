import type { Redis } from "ioredis";

/**
 * Per-grant request budgets shared by every worker process, kept in Redis.
 *
 * The algorithm is GCRA (a virtual-scheduling token bucket): each key stores the
 * "theoretical arrival time" (TAT) of the next allowed request, and each request moves it
 * one emission interval (1 / rate, plus `marginMs`) further. A fixed-window counter, such
 * as rate-limiter-flexible's Redis limiter, admits up to twice the budget across a window
 * boundary and only has whole-second windows, which is why this small script is used.
 * The clock is Redis' own (TIME), so workers on machines with skewed clocks agree.
 *
 * Spacing the *tokens* is not enough: providers count requests by *arrival* (Gmail's
 * ~2 sends/s per user, over a sliding second), and between a token and the wire a request
 * can sit in a stalled event loop or a socket for an unbounded time, so two tokens 500 ms
 * apart can arrive 60 ms apart. No margin fixes unbounded jitter. A *serial* budget (the
 * default when `burst` is 1) therefore adds a causal rule, with `settle`:
 *
 * - `take` succeeds only if no request of that grant and budget is in flight and the GCRA
 *   allows it; it then marks one request in flight (with a lease, `inFlightLeaseMs`).
 * - `settle`, called once that request's response has come back (success or failure),
 *   clears the mark and moves the TAT to at least (Redis now + interval).
 *
 * Why arrivals are then at least one interval apart, whatever the jitter: request k
 * arrives at the provider before its response leaves the provider, so before the client
 * receives it, so before `settle` runs in Redis (at S_k). Request k+1 cannot take its token
 * while k is in flight, and after S_k only at T_{k+1} >= S_k + interval; it is sent after
 * its token, so it arrives after T_{k+1}. Hence arrival_{k+1} - arrival_k > T_{k+1} - S_k
 * >= interval, measured as elapsed time (only the clocks' rates matter, not their offsets),
 * and a sliding second never holds more than `perSecond` arrivals. Settle rounds Redis' µs
 * up to the ms and take rounds down, so the bound holds to the microsecond. The price is a
 * per-grant rate of 1 / (interval + round trip) instead of 1 / interval; other grants' work
 * runs meanwhile. `marginMs` still widens the interval (e.g. for a provider whose clock or
 * counting is coarse); it is no longer needed against jitter.
 *
 * The guarantee assumes every settle follows its response. A request that ends without a
 * response (client timeout, reset) may in principle still be in transit when it is
 * settled; settle it all the same (the alternative is holding the grant for the lease).
 * A request never settled (its process died mid-request) holds the grant until its lease
 * lapses, which is why the lease must exceed the HTTP request timeout: a live request must
 * always settle before its lease ends, or its late settle could clear a successor's mark.
 *
 * Non-serial budgets (`burst` > 1, or `serial: false`) keep plain GCRA: tokens are spaced
 * in Redis time, up to `burst` back to back, nothing is tracked in flight, and `settle`
 * does nothing (no Redis call).
 */

/*
 * KEYS: TAT, block, in-flight. ARGV: interval ms, burst, lease ms (0 = not serial).
 * Returns 0 when taken, else the ms until a take could first succeed (at least 1).
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local lease = tonumber(ARGV[3])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowAt = tat - tolerance
if lease > 0 then
  local flight = tonumber(redis.call('GET', KEYS[3]) or '0')
  if flight > 0 then
    -- In flight until its settle (then at least one interval more) or its lease: poll by
    -- then, never later than one interval from now, so callers poll instead of giving up.
    local leaseLeft = flight - now
    local gcraLeft = allowAt - now
    if gcraLeft > leaseLeft then leaseLeft = gcraLeft end
    return math.max(1, math.min(interval, leaseLeft))
  end
end
if allowAt > now then return allowAt - now end
local nextTat = tat + interval
redis.call('SET', KEYS[1], nextTat, 'PX', math.ceil(nextTat - now) + 1000)
if lease > 0 then redis.call('SET', KEYS[3], now + lease, 'PX', lease) end
return 0
`;

/*
 * KEYS: TAT, in-flight. ARGV: interval ms. Clears the in-flight mark and sets
 * TAT = max(TAT, ceil(now) + interval). Returns 1 if a mark was cleared (0: its lease lapsed).
 */
const SETTLE = `
local t = redis.call('TIME')
local nowFloor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nowCeil = tonumber(t[1]) * 1000 + math.ceil(tonumber(t[2]) / 1000)
local cleared = redis.call('DEL', KEYS[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local nextTat = math.max(tat, nowCeil + tonumber(ARGV[1]))
redis.call('SET', KEYS[1], nextTat, 'PX', math.ceil(nextTat - nowFloor) + 1000)
return cleared
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
   * Extra ms between two requests, added to the interval. Serial budgets need none against
   * jitter (see above); it remains for providers whose own counting is coarser.
   */
  marginMs?: number;
  /**
   * One request in flight per grant and budget, the next one an interval after the previous
   * one settled, so the budget holds by arrival at the provider (see above). Defaults to
   * true when `burst` is 1 and false otherwise; when true, `burst` is treated as 1.
   * Callers must `settle` every successful `take` of a serial budget.
   */
  serial?: boolean;
}

export interface LimiterSettings {
  prefix: string;
  read: Rate;
  send: Rate;
  /** Send budgets by provider name ("google", "microsoft", ...), overriding `send`. */
  sendByProvider?: Record<string, Rate>;
  /**
   * How long an unsettled request of a serial budget holds the next one (ms, default
   * 30 000). It only matters when a process died mid-request; it must exceed the HTTP
   * request timeout (plus the time to call `settle`), or a slow live request could lose its
   * mark and let the next one overlap it.
   */
  inFlightLeaseMs?: number;
}

const DEFAULT_LEASE_MS = 30_000;

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
    const client = redis as unknown as Partial<ScriptClient>;
    if (!client.grantTake) redis.defineCommand("grantTake", { numberOfKeys: 3, lua: TAKE });
    if (!client.grantSettle) redis.defineCommand("grantSettle", { numberOfKeys: 2, lua: SETTLE });
    if (!client.grantBlock) redis.defineCommand("grantBlock", { numberOfKeys: 1, lua: BLOCK });
    this.redis = redis as unknown as ScriptClient;
  }

  rateFor(budget: Budget, provider?: string): Rate {
    if (budget === "read") return this.settings.read;
    return (provider && this.settings.sendByProvider?.[provider]) || this.settings.send;
  }

  /**
   * Takes one request from the grant's budget. Returns 0 when taken, otherwise how many
   * ms to wait before asking again (nothing is taken then). A 429 block comes first; while
   * another request of a serial budget is in flight the wait is short (at most one
   * interval), so poll again rather than give up. After a 0 on a serial budget, call
   * `settle` once the request has answered.
   */
  async take(grantId: string, budget: Budget, provider?: string): Promise<number> {
    const rate = this.rateFor(budget, provider);
    const serial = serialOf(rate);
    const burst = serial ? 1 : Math.max(1, rate.burst ?? 1);
    const lease = serial ? Math.max(1, Math.ceil(this.settings.inFlightLeaseMs ?? DEFAULT_LEASE_MS)) : 0;
    return Number(await this.redis.grantTake(this.key(grantId, budget), this.blockKey(grantId), this.flightKey(grantId, budget), intervalOf(rate), burst, lease));
  }

  /**
   * The request that took a token has answered (success or failure): ends its flight and,
   * for a serial budget, holds the next take until one interval from now. Call it exactly
   * once per successful `take` (also when the request failed or was never sent), never
   * after a refused one. Free for non-serial budgets (no Redis call), so callers may settle
   * every request without asking which kind of budget it used.
   */
  async settle(grantId: string, budget: Budget, provider?: string): Promise<void> {
    const rate = this.rateFor(budget, provider);
    if (!serialOf(rate)) return;
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

function serialOf(rate: Rate): boolean {
  return rate.serial ?? (rate.burst ?? 1) <= 1;
}

/** Exponential back-off with jitter: random in [base / 2, min(cap, base * 2^attempt)]. */
export function backoffWithJitter(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt, 30)));
  return Math.round(baseMs / 2 + random() * (ceiling - baseMs / 2));
}
