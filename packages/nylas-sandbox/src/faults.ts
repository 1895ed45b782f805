/**
 * Injected trouble: latency per route class, and failure rules that make the next N matching
 * requests answer 5xx (or 429 with a chosen Retry-After) in Nylas' error shape or lose their
 * connection (before the work, or after it — a send that happened but whose response never
 * arrived), or, for the messages routes, answer with every message's headers empty (as
 * Microsoft's Sent folder does), so that a search for a custom header finds nothing.
 */
import { badRequest } from "./errors.js";
import { mulberry32 } from "./random.js";
import { isObject } from "./validate.js";

export const ROUTE_CLASSES = ["grants", "calendars", "events", "messages", "send", "oauth", "folders", "auth"] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

export const FAULT_KINDS = [400, 429, 500, 502, 503, 504, "drop", "drop_after", "hide_headers"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultInput {
  kind: FaultKind;
  /** How many matching requests fail (default 1; use Infinity/null with `probability`). */
  count?: number | null;
  grantId?: string;
  routeClass?: RouteClass;
  /** Chance that a matching request fails (default 1), from a seeded generator. */
  probability?: number;
  /** Kind 429 only: the `Retry-After` answered, whole seconds (default 1). */
  retryAfterS?: number;
}

export interface FaultRule {
  id: number;
  kind: FaultKind;
  remaining: number;
  grantId?: string;
  routeClass?: RouteClass;
  probability: number;
  /** Kind 429: the `Retry-After` answered, in seconds. */
  retryAfterS?: number;
}

export interface LatencyConfig {
  /** Added to every /v3 request (ms). */
  ms: number;
  /** Random extra 0…jitterMs (ms), seeded. */
  jitterMs: number;
  /** Overrides `ms` for one route class. */
  perClass: Partial<Record<RouteClass, number>>;
}

export class Faults {
  rules: FaultRule[] = [];
  latency: LatencyConfig = { ms: 0, jitterMs: 0, perClass: {} };
  private nextId = 1;
  private rand = mulberry32(42);

  inject(input: FaultInput): FaultRule {
    if (!isObject(input)) throw badRequest("fault must be an object");
    if (!FAULT_KINDS.includes(input.kind)) throw badRequest(`kind must be one of ${FAULT_KINDS.join(", ")}`);
    const count = input.count === null || input.count === Infinity ? Infinity : (input.count ?? 1);
    if (count !== Infinity && (!Number.isInteger(count) || count < 1))
      throw badRequest("count must be a positive integer (or null for unlimited)");
    if (input.routeClass !== undefined && !ROUTE_CLASSES.includes(input.routeClass)) {
      throw badRequest(`routeClass must be one of ${ROUTE_CLASSES.join(", ")}`);
    }
    if (input.kind === "hide_headers" && (input.routeClass ?? "messages") !== "messages")
      throw badRequest('hide_headers applies to the messages route class only (routeClass "messages")');
    if (input.grantId !== undefined && typeof input.grantId !== "string") throw badRequest("grantId must be a string");
    const probability = input.probability ?? 1;
    if (typeof probability !== "number" || !(probability > 0 && probability <= 1))
      throw badRequest("probability must be in (0, 1]");
    if (
      input.retryAfterS !== undefined &&
      (input.kind !== 429 || !Number.isInteger(input.retryAfterS) || input.retryAfterS < 0 || input.retryAfterS > 3600)
    ) {
      throw badRequest("retryAfterS must be whole seconds between 0 and 3600, with kind 429 only");
    }
    const rule: FaultRule = { id: this.nextId++, kind: input.kind, remaining: count, probability };
    if (input.kind === 429) rule.retryAfterS = input.retryAfterS ?? 1;
    if (input.grantId !== undefined) rule.grantId = input.grantId;
    if (input.routeClass !== undefined) rule.routeClass = input.routeClass;
    else if (input.kind === "hide_headers") rule.routeClass = "messages";
    this.rules.push(rule);
    return { ...rule };
  }

  clear(): void {
    this.rules = [];
  }

  /** The rule that fires for this request, if any (consumes one of its count). */
  take(grantId: string | undefined, cls: RouteClass | undefined): FaultRule | undefined {
    if (this.rules.length === 0) return undefined;
    for (const r of this.rules) {
      if (r.remaining <= 0) continue;
      if (r.grantId !== undefined && r.grantId !== grantId) continue;
      if (r.routeClass !== undefined && r.routeClass !== cls) continue;
      if (r.probability < 1 && this.rand() >= r.probability) continue;
      r.remaining--;
      if (r.remaining <= 0) this.rules = this.rules.filter((x) => x.remaining > 0);
      return r;
    }
    return undefined;
  }

  setLatency(input: { ms?: number; jitterMs?: number; perClass?: Partial<Record<RouteClass, number>> }): LatencyConfig {
    if (!isObject(input)) throw badRequest("latency must be an object");
    const ok = (v: unknown, f: string): number => {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 120_000)
        throw badRequest(`${f} must be a number of ms between 0 and 120000`);
      return v;
    };
    const next: LatencyConfig = { ms: 0, jitterMs: 0, perClass: {} };
    if (input.ms !== undefined) next.ms = ok(input.ms, "ms");
    if (input.jitterMs !== undefined) next.jitterMs = ok(input.jitterMs, "jitterMs");
    if (input.perClass !== undefined) {
      if (!isObject(input.perClass)) throw badRequest("perClass must be an object {routeClass: ms}");
      for (const [k, v] of Object.entries(input.perClass)) {
        if (!ROUTE_CLASSES.includes(k as RouteClass))
          throw badRequest(`perClass key must be one of ${ROUTE_CLASSES.join(", ")}`);
        next.perClass[k as RouteClass] = ok(v, `perClass.${k}`);
      }
    }
    this.latency = next;
    return structuredClone(next);
  }

  delayFor(cls: RouteClass | undefined): number {
    const l = this.latency;
    const base = (cls !== undefined ? l.perClass[cls] : undefined) ?? l.ms;
    return base + (l.jitterMs > 0 ? this.rand() * l.jitterMs : 0);
  }

  reset(): void {
    this.rules = [];
    this.latency = { ms: 0, jitterMs: 0, perClass: {} };
    this.rand = mulberry32(42);
  }
}
