/**
 * Rate limits like Nylas' and its providers': a per-grant request budget (Nylas' own limiter),
 * and per-grant provider budgets for reads and for sends that depend on the provider (Gmail ≈
 * 2 sends/s per user, Microsoft more). A provider may also keep a mailbox throttled for a span
 * once it went over a budget (Microsoft Graph does), and may leave out `Retry-After`.
 * Fixed one-second windows keyed by grant: O(1) per request, one small entry per grant.
 */
import { badRequest } from "./errors.js";
import { mulberry32 } from "./random.js";
import { isObject } from "./validate.js";

/** A number per provider; a provider not named uses `default`. */
export type PerProvider = Record<string, number>;

export interface LimitsConfig {
  /**
   * Requests per second across the application's authentication routes (custom
   * authentication), whatever the grant: Nylas allows 50; 0 = unlimited.
   */
  authRequestsPerSecond: number;
  /** Requests per second per grant across all its /v3/grants/{id}/… routes; 0 = unlimited. */
  requestsPerSecond: number;
  /** Sends per second per grant, by provider; 0 = unlimited. */
  sendsPerSecond: PerProvider;
  /** Reads (events, calendars, messages, folders) per second per grant, by provider; 0 = unlimited. */
  readsPerSecond: PerProvider;
  /** Chance (0–1) that a provider's 429 comes without `Retry-After`, by provider. */
  retryAfterMissingProbability: PerProvider;
  /**
   * Once a grant goes over a provider budget, every request of it answers 429 for this many ms
   * (a Microsoft-style mailbox throttle), by provider; 0 = only the excess request is refused.
   */
  providerThrottleMs: PerProvider;
}

/**
 * Defaults sit above what the worker asks by default (20 reads/s per grant; 2 sends/s Google,
 * 3/s Microsoft) and what the chaos suite asks (50 reads/s), so a well-behaved client is never
 * refused; tests set tighter ones. No throttle span and no missing Retry-After by default: the
 * worker's own tests exceed the Microsoft send budget on purpose and would wait out each span.
 */
export const DEFAULT_LIMITS: LimitsConfig = {
  authRequestsPerSecond: 50,
  requestsPerSecond: 200,
  sendsPerSecond: { google: 2, microsoft: 4, imap: 5, default: 4 },
  readsPerSecond: { google: 100, microsoft: 60, default: 60 },
  retryAfterMissingProbability: { default: 0 },
  providerThrottleMs: { default: 0 },
};

export type LimitsInput = {
  authRequestsPerSecond?: number;
  requestsPerSecond?: number;
  sendsPerSecond?: PerProvider | number;
  readsPerSecond?: PerProvider | number;
  retryAfterMissingProbability?: PerProvider | number;
  providerThrottleMs?: PerProvider | number;
};

interface Window {
  start: number;
  n: number;
}

type PerProviderKey = "sendsPerSecond" | "readsPerSecond" | "retryAfterMissingProbability" | "providerThrottleMs";

const CHECKS: Record<PerProviderKey, { ok: (v: number) => boolean; what: string }> = {
  sendsPerSecond: { ok: (v) => Number.isInteger(v) && v >= 0, what: "an integer >= 0 (0 = unlimited)" },
  readsPerSecond: { ok: (v) => Number.isInteger(v) && v >= 0, what: "an integer >= 0 (0 = unlimited)" },
  retryAfterMissingProbability: { ok: (v) => v >= 0 && v <= 1, what: "a probability between 0 and 1" },
  providerThrottleMs: {
    ok: (v) => Number.isInteger(v) && v >= 0 && v <= 3_600_000,
    what: "whole milliseconds between 0 and 3600000",
  },
};

function mergePerProvider(key: PerProviderKey, current: PerProvider, input: unknown): PerProvider {
  const { ok, what } = CHECKS[key];
  if (typeof input === "number") {
    if (!Number.isFinite(input) || !ok(input)) throw badRequest(`${key} must be ${what}`);
    return { default: input };
  }
  if (!isObject(input)) throw badRequest(`${key} must be a number or an object {provider: n}`);
  const next = { ...current };
  for (const [k, v] of Object.entries(input)) {
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw badRequest(`${key}.${k} must be ${what}`);
    next[k] = v;
  }
  return next;
}

function forProvider(map: PerProvider, provider: string): number {
  return map[provider] ?? map.default ?? 0;
}

export class RateLimiter {
  config: LimitsConfig = structuredClone(DEFAULT_LIMITS);
  private requests = new Map<string, Window>();
  private sends = new Map<string, Window>();
  private reads = new Map<string, Window>();
  private auth = new Map<string, Window>();
  /** Grant id → epoch ms its throttle span ends. */
  private throttledUntil = new Map<string, number>();
  private rand = mulberry32(4242);

  set(input: LimitsInput): LimitsConfig {
    if (!isObject(input)) throw badRequest("limits must be an object");
    const next = structuredClone(this.config);
    if (input.requestsPerSecond !== undefined) {
      if (!Number.isInteger(input.requestsPerSecond) || input.requestsPerSecond < 0)
        throw badRequest("requestsPerSecond must be an integer >= 0 (0 = unlimited)");
      next.requestsPerSecond = input.requestsPerSecond;
    }
    if (input.authRequestsPerSecond !== undefined) {
      if (!Number.isInteger(input.authRequestsPerSecond) || input.authRequestsPerSecond < 0)
        throw badRequest("authRequestsPerSecond must be an integer >= 0 (0 = unlimited)");
      next.authRequestsPerSecond = input.authRequestsPerSecond;
    }
    for (const key of Object.keys(CHECKS) as PerProviderKey[]) {
      if (input[key] !== undefined) next[key] = mergePerProvider(key, next[key], input[key]);
    }
    this.config = next;
    return structuredClone(next);
  }

  reset(): void {
    this.config = structuredClone(DEFAULT_LIMITS);
    this.requests.clear();
    this.sends.clear();
    this.reads.clear();
    this.auth.clear();
    this.throttledUntil.clear();
    this.rand = mulberry32(4242);
  }

  /** Counts one request; returns Retry-After seconds when over budget, else 0. */
  hitRequest(grantId: string, now: number): number {
    return hit(this.requests, grantId, this.config.requestsPerSecond, now);
  }

  /** Counts one request to an authentication route (application-wide); Retry-After seconds when over. */
  hitAuth(now: number): number {
    return hit(this.auth, "application", this.config.authRequestsPerSecond, now);
  }

  /** Counts one send against the provider's budget (and starts a throttle span when over it). */
  hitSend(grantId: string, provider: string, now: number): number {
    return this.overBudget(this.sends, "sendsPerSecond", grantId, provider, now);
  }

  /** Counts one read against the provider's budget (and starts a throttle span when over it). */
  hitRead(grantId: string, provider: string, now: number): number {
    return this.overBudget(this.reads, "readsPerSecond", grantId, provider, now);
  }

  /** Seconds left in the grant's throttle span, or 0 when it is not throttled. */
  throttledFor(grantId: string, now: number): number {
    const until = this.throttledUntil.get(grantId);
    if (until === undefined) return 0;
    if (now >= until) {
      this.throttledUntil.delete(grantId);
      return 0;
    }
    return Math.max(1, Math.ceil((until - now) / 1000));
  }

  /** Whether this provider 429 goes out without `Retry-After` (seeded, so runs repeat). */
  omitsRetryAfter(provider: string): boolean {
    const p = forProvider(this.config.retryAfterMissingProbability, provider);
    return p > 0 && this.rand() < p;
  }

  private overBudget(
    map: Map<string, Window>,
    key: "sendsPerSecond" | "readsPerSecond",
    grantId: string,
    provider: string,
    now: number,
  ): number {
    const retry = hit(map, grantId, forProvider(this.config[key], provider), now);
    if (retry === 0) return 0;
    const span = forProvider(this.config.providerThrottleMs, provider);
    if (span <= 0) return retry;
    this.throttledUntil.set(grantId, now + span);
    return Math.max(1, Math.ceil(span / 1000));
  }
}

function hit(map: Map<string, Window>, key: string, limit: number, now: number): number {
  if (limit <= 0) return 0;
  let w = map.get(key);
  if (!w || now - w.start >= 1000) {
    w = { start: now, n: 0 };
    map.set(key, w);
  }
  if (w.n >= limit) return Math.max(1, Math.ceil((w.start + 1000 - now) / 1000));
  w.n++;
  return 0;
}
