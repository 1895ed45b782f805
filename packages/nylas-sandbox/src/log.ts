/**
 * The request log: columnar typed arrays in a ring, so a benchmark can keep hundreds of
 * thousands of entries without allocating an object per request. Never stores headers.
 */
import type { LogNote } from "./errors.js";

export const ROUTES = [
  "other",
  "grants.list",
  "grants.find",
  "calendars.list",
  "calendars.find",
  "events.list",
  "events.find",
  "messages.list",
  "messages.find",
  "messages.send",
  "connect.auth",
  "connect.consent",
  "connect.token",
  "connect.custom",
  "webhooks.list",
  "webhooks.create",
  "webhooks.find",
  "webhooks.update",
  "webhooks.delete",
  "webhooks.rotate_secret",
  "folders.list",
  "folders.find",
] as const;
export type RouteName = (typeof ROUTES)[number];

const NOTES: readonly LogNote[] = [
  "none",
  "nylas_rate_limit",
  "provider_rate_limit",
  "injected",
  "dropped",
  "dropped_after",
  "unauthorized",
  "grant_invalid",
  "idempotent_replay",
  "idempotency_conflict",
  "headers_hidden",
  "insufficient_scopes",
];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OTHER"] as const;

export interface RequestLogEntry {
  /** Monotonic sequence number (use it with `sinceSeq` to read only new entries). */
  seq: number;
  method: string;
  route: RouteName;
  /** Path without query string (never includes credentials). */
  path: string;
  grantId?: string;
  /** HTTP status; 0 when the connection was dropped without a response. */
  status: number;
  /** Server-side handling time in ms, including injected latency. */
  ms: number;
  /** Epoch ms when the response finished. */
  at: number;
  note: LogNote;
}

export interface RequestLogFilter {
  sinceSeq?: number;
  sinceMs?: number;
  grantId?: string;
  status?: number;
  route?: RouteName;
  limit?: number;
}

export interface Counters {
  requests: number;
  byRoute: Partial<Record<RouteName, number>>;
  byStatus: Record<string, number>;
  sends: number;
  rateLimitedNylas: number;
  rateLimitedProvider: number;
  injectedFaults: number;
  dropped: number;
  unauthorized: number;
  /** Sends answered from their Idempotency-Key (not sent again; not counted in `sends`). */
  idempotentReplays: number;
}

function emptyCounters(): Counters {
  return {
    requests: 0,
    byRoute: {},
    byStatus: {},
    sends: 0,
    rateLimitedNylas: 0,
    rateLimitedProvider: 0,
    injectedFaults: 0,
    dropped: 0,
    unauthorized: 0,
    idempotentReplays: 0,
  };
}

/** Paths are stored only for routes whose path is not implied by (route, grant). */
const IMPLIED: Partial<Record<RouteName, (g: string) => string>> = {
  "grants.find": (g) => `/v3/grants/${g}`,
  "calendars.list": (g) => `/v3/grants/${g}/calendars`,
  "events.list": (g) => `/v3/grants/${g}/events`,
  "messages.list": (g) => `/v3/grants/${g}/messages`,
  "messages.send": (g) => `/v3/grants/${g}/messages/send`,
  "folders.list": (g) => `/v3/grants/${g}/folders`,
};

export class RequestLog {
  private cap: number;
  private len = 0;
  private head = 0; // next write slot
  private seq = 0;
  private at = new Float64Array(0);
  private ms = new Float32Array(0);
  private status = new Uint16Array(0);
  private grant = new Int32Array(0);
  private route = new Uint8Array(0);
  private method = new Uint8Array(0);
  private note = new Uint8Array(0);
  private paths = new Map<number, string>();
  private grantIds: string[] = [];
  private grantIndex = new Map<string, number>();
  counters: Counters = emptyCounters();

  constructor(readonly capacity = 500_000) {
    this.cap = Math.max(16, capacity);
  }

  get size(): number {
    return this.len;
  }

  private grow(): void {
    // Grow by doubling up to capacity, so an idle sandbox stays small.
    const n = Math.min(this.cap, Math.max(4096, this.at.length * 2));
    const copy = <T extends Float64Array | Float32Array | Uint16Array | Int32Array | Uint8Array>(
      a: T,
      make: (n: number) => T,
    ): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.at = copy(this.at, (k) => new Float64Array(k));
    this.ms = copy(this.ms, (k) => new Float32Array(k));
    this.status = copy(this.status, (k) => new Uint16Array(k));
    this.grant = copy(this.grant, (k) => new Int32Array(k));
    this.route = copy(this.route, (k) => new Uint8Array(k));
    this.method = copy(this.method, (k) => new Uint8Array(k));
    this.note = copy(this.note, (k) => new Uint8Array(k));
  }

  push(e: Omit<RequestLogEntry, "seq">): void {
    const c = this.counters;
    c.requests++;
    c.byRoute[e.route] = (c.byRoute[e.route] ?? 0) + 1;
    const sk = String(e.status);
    c.byStatus[sk] = (c.byStatus[sk] ?? 0) + 1;
    if (e.route === "messages.send" && e.status === 200 && e.note !== "idempotent_replay") c.sends++;
    if (e.note === "idempotent_replay") c.idempotentReplays++;
    if (e.note === "nylas_rate_limit") c.rateLimitedNylas++;
    if (e.note === "provider_rate_limit") c.rateLimitedProvider++;
    if (e.note === "injected") c.injectedFaults++;
    if (e.note === "dropped" || e.note === "dropped_after") c.dropped++;
    if (e.status === 401) c.unauthorized++;

    if (this.len < this.cap && this.head >= this.at.length) this.grow();
    const i = this.head;
    this.at[i] = e.at;
    this.ms[i] = e.ms;
    this.status[i] = e.status;
    let g = -1;
    if (e.grantId !== undefined) {
      g = this.grantIndex.get(e.grantId) ?? -1;
      if (g < 0) {
        g = this.grantIds.length;
        this.grantIds.push(e.grantId);
        this.grantIndex.set(e.grantId, g);
      }
    }
    this.grant[i] = g;
    this.route[i] = ROUTES.indexOf(e.route);
    const m = METHODS.indexOf(e.method as (typeof METHODS)[number]);
    this.method[i] = m < 0 ? METHODS.length - 1 : m;
    this.note[i] = NOTES.indexOf(e.note);
    if (e.grantId !== undefined && IMPLIED[e.route]) this.paths.delete(i);
    else this.paths.set(i, e.path.length > 300 ? e.path.slice(0, 300) : e.path);
    this.seq++;
    this.head = (this.head + 1) % this.cap;
    if (this.len < this.cap) this.len++;
  }

  /** Entries oldest first, filtered. */
  entries(f: RequestLogFilter = {}): RequestLogEntry[] {
    const out: RequestLogEntry[] = [];
    const firstSeq = this.seq - this.len;
    const start = f.sinceSeq !== undefined ? Math.max(firstSeq, f.sinceSeq) : firstSeq;
    const gFilter = f.grantId !== undefined ? (this.grantIndex.get(f.grantId) ?? -2) : undefined;
    const rFilter = f.route !== undefined ? ROUTES.indexOf(f.route) : undefined;
    const limit = f.limit ?? Infinity;
    for (let s = start; s < this.seq && out.length < limit; s++) {
      const i = (((this.head - (this.seq - s)) % this.cap) + this.cap) % this.cap;
      if (gFilter !== undefined && this.grant[i] !== gFilter) continue;
      if (rFilter !== undefined && this.route[i] !== rFilter) continue;
      if (f.status !== undefined && this.status[i] !== f.status) continue;
      if (f.sinceMs !== undefined && this.at[i]! < f.sinceMs) continue;
      const g = this.grant[i]!;
      const route = ROUTES[this.route[i]!]!;
      const grantId = g >= 0 ? this.grantIds[g] : undefined;
      const implied = grantId !== undefined ? IMPLIED[route] : undefined;
      const entry: RequestLogEntry = {
        seq: s,
        method: METHODS[this.method[i]!]!,
        route,
        path: this.paths.get(i) ?? (implied && grantId !== undefined ? implied(grantId) : ""),
        status: this.status[i]!,
        ms: Math.round(this.ms[i]! * 100) / 100,
        at: this.at[i]!,
        note: NOTES[this.note[i]!]!,
      };
      if (grantId !== undefined) entry.grantId = grantId;
      out.push(entry);
    }
    return out;
  }

  /** Sequence number the next entry will get. */
  get nextSeq(): number {
    return this.seq;
  }

  clear(): void {
    this.len = 0;
    this.head = 0;
    this.paths.clear();
  }

  clearCounters(): void {
    this.counters = emptyCounters();
  }

  snapshotCounters(): Counters {
    return structuredClone(this.counters);
  }
}
