/**
 * What stands between a grant's data route and its handler, after Nylas' own checks (API key,
 * Nylas' request budget, the grant's validity): the OAuth scope the route needs (403), a
 * provider throttle span in force (429 on every request), and, once a read was answered, the
 * provider's read budget (429). Reads are side-effect free, so a read refused by the budget is
 * simply not answered; a request Nylas refuses itself (400, 404) never reaches the provider.
 */
import type { RateLimiter } from "./limits.js";
import type { RouteName } from "./log.js";
import { checkScope, type ScopeNeed } from "./scopes.js";
import type { GrantState } from "./store.js";
import { providerRateLimit } from "./throttle.js";

const NEEDS: Partial<Record<RouteName, ScopeNeed>> = {
  "calendars.list": "calendars",
  "calendars.find": "calendars",
  "events.list": "events",
  "events.find": "events",
  "messages.list": "messages",
  "messages.find": "messages",
  "folders.list": "folders",
  "folders.find": "folders",
  "messages.send": "send",
};

/** Routes that count against the provider's read budget. */
export function isProviderRead(route: RouteName): boolean {
  const need = NEEDS[route];
  return need !== undefined && need !== "send";
}

/** Scope first (a request without it never reaches the provider), then a throttle span. */
export function admit(g: GrantState, route: RouteName, limiter: RateLimiter, nowMs: number): void {
  const need = NEEDS[route];
  if (need === undefined) return;
  checkScope(g.grant.provider, g.grant.scope, need);
  const left = limiter.throttledFor(g.grant.id, nowMs);
  if (left > 0) throw providerRateLimit(limiter, g.grant.provider, left, "throttled");
}

/** Counts an answered read against the provider's budget; 429 when it is over. */
export function countRead(g: GrantState, limiter: RateLimiter, nowMs: number): void {
  const retry = limiter.hitRead(g.grant.id, g.grant.provider, nowMs);
  if (retry > 0) throw providerRateLimit(limiter, g.grant.provider, retry, "read");
}
