/**
 * Rate limits like Nylas': a per-grant request budget (Nylas' own limiter) and a per-grant
 * send budget that depends on the provider (Gmail ≈ 2 sends/s per user, Microsoft more).
 * Fixed one-second windows keyed by grant: O(1) per request, one small entry per grant.
 */
import { badRequest } from "./errors.js";
import { isObject } from "./validate.js";

export interface LimitsConfig {
  /** Requests per second per grant across all its /v3/grants/{id}/… routes; 0 = unlimited. */
  requestsPerSecond: number;
  /** Sends per second per grant, by provider; a missing provider uses `default`; 0 = unlimited. */
  sendsPerSecond: Record<string, number>;
}

export const DEFAULT_LIMITS: LimitsConfig = {
  requestsPerSecond: 200,
  sendsPerSecond: { google: 2, microsoft: 4, imap: 5, default: 4 },
};

export type LimitsInput = { requestsPerSecond?: number; sendsPerSecond?: Record<string, number> | number };

interface Window {
  start: number;
  n: number;
}

export class RateLimiter {
  config: LimitsConfig = structuredClone(DEFAULT_LIMITS);
  private requests = new Map<string, Window>();
  private sends = new Map<string, Window>();

  set(input: LimitsInput): LimitsConfig {
    if (!isObject(input)) throw badRequest("limits must be an object");
    const next = structuredClone(this.config);
    if (input.requestsPerSecond !== undefined) {
      if (!Number.isInteger(input.requestsPerSecond) || input.requestsPerSecond < 0)
        throw badRequest("requestsPerSecond must be an integer >= 0 (0 = unlimited)");
      next.requestsPerSecond = input.requestsPerSecond;
    }
    if (input.sendsPerSecond !== undefined) {
      const s = input.sendsPerSecond;
      if (typeof s === "number") {
        if (!Number.isInteger(s) || s < 0) throw badRequest("sendsPerSecond must be an integer >= 0 (0 = unlimited)");
        next.sendsPerSecond = { default: s };
      } else if (isObject(s)) {
        for (const [k, v] of Object.entries(s)) {
          if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
            throw badRequest(`sendsPerSecond.${k} must be an integer >= 0`);
          next.sendsPerSecond[k] = v;
        }
      } else {
        throw badRequest("sendsPerSecond must be a number or an object {provider: n}");
      }
    }
    this.config = next;
    return structuredClone(next);
  }

  reset(): void {
    this.config = structuredClone(DEFAULT_LIMITS);
    this.requests.clear();
    this.sends.clear();
  }

  /** Counts one request; returns Retry-After seconds when over budget, else 0. */
  hitRequest(grantId: string, now: number): number {
    return hit(this.requests, grantId, this.config.requestsPerSecond, now);
  }

  hitSend(grantId: string, provider: string, now: number): number {
    const limit = this.config.sendsPerSecond[provider] ?? this.config.sendsPerSecond.default ?? 0;
    return hit(this.sends, grantId, limit, now);
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
