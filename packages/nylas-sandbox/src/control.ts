/**
 * The sandbox's control surface: the same operations as in-process methods (tests, bench,
 * chaos) and as JSON routes under /_sandbox/ (the demo, curl). No Nylas auth on these.
 */
import { ApiError, badRequest, notFound } from "./errors.js";
import { Faults, type FaultInput, type FaultRule, type LatencyConfig } from "./faults.js";
import { expectedOptionsFrom } from "./expected-query.js";
import { IdempotencyKeys } from "./idempotency.js";
import { RateLimiter, type LimitsConfig, type LimitsInput } from "./limits.js";
import {
  RequestLog,
  ROUTES,
  type Counters,
  type RequestLogEntry,
  type RequestLogFilter,
  type RouteName,
} from "./log.js";
import { readCustomAuth } from "./custom-auth.js";
import { OAuthService } from "./oauth.js";
import {
  expectedDecisions,
  expectedReminders,
  seed,
  seedBulk,
  type BulkOptions,
  type ExpectedDecision,
  type ExpectedOptions,
  type ExpectedReminder,
  type SeedOptions,
  type SeedResult,
} from "./seed.js";
import { SandboxStore, type EventInput, type GrantInput } from "./store.js";
import { PROVIDERS, type Header, type MessageRecord, type Provider, type WireEvent, type WireGrant } from "./types.js";
import { int, isObject } from "./validate.js";
import { Webhooks, type WebhooksOptions } from "./webhooks.js";
import type { DeliveryFilter, DeliveryState, ReleaseOrder } from "./webhook-sender.js";

export interface SentMessage {
  grantId: string;
  messageId: string;
  threadId: string;
  to: string[];
  cc: string[];
  bcc: string[];
  subject: string;
  /** The body as sent (HTML unless the send said plain text). */
  body: string;
  /** Only the custom headers the sender supplied (as the provider kept them). */
  customHeaders: Header[];
  /** Epoch ms when the sandbox accepted the send. */
  at: number;
}

export interface ControlOptions {
  apiKey: string;
  clientId: string;
  now?: () => number;
  requestLogCapacity?: number;
  /** Webhook settings (see webhooks.ts); the application id and clock come from here. */
  webhooks?: Omit<WebhooksOptions, "applicationId" | "now">;
  /** GET /v3/grants keeps reporting an invalidated grant as valid this long (ms; default 0). */
  grantStatusLagMs?: number;
}

export class SandboxControl {
  /** The Bearer key the API accepts now; `setApiKey` changes it (a rotated or revoked key). */
  apiKey: string;
  readonly clientId: string;
  readonly store: SandboxStore;
  readonly limiter = new RateLimiter();
  readonly faults = new Faults();
  readonly log: RequestLog;
  readonly oauth: OAuthService;
  /** Idempotency-Keys of sends, per grant, kept one hour by the sandbox's clock. */
  readonly idempotency: IdempotencyKeys;
  /** Webhook destinations and the notifications the control API's changes cause. */
  readonly webhooks: Webhooks;
  /** Every accepted send, in order, across grants (cheap to read back in benchmarks). */
  private sent: { grantId: string; rec: MessageRecord }[] = [];
  /** Providers the application has no connector for (custom authentication refuses them). */
  private missingConnectors = new Set<Provider>();
  /** The status lag the sandbox started with; `reset` returns to it. */
  private readonly initialStatusLagMs: number;

  constructor(opts: ControlOptions) {
    this.apiKey = opts.apiKey;
    this.clientId = opts.clientId;
    this.store = new SandboxStore(opts.now ?? Date.now);
    this.log = new RequestLog(opts.requestLogCapacity);
    this.webhooks = new Webhooks({ ...opts.webhooks, applicationId: this.clientId, now: () => this.store.now() });
    this.oauth = new OAuthService(
      this.store,
      this.clientId,
      () => this.apiKey,
      (grant, created) => (created ? this.webhooks.grantCreated(grant) : this.webhooks.grantUpdated(grant, true)),
    );
    this.idempotency = new IdempotencyKeys(() => this.store.now());
    this.initialStatusLagMs = this.store.setGrantStatusLag(opts.grantStatusLagMs ?? 0);
  }

  /** Forgets everything: grants, events, mail, logs, counters, faults, latency, limits, idempotency keys. */
  reset(): void {
    this.store.reset();
    this.idempotency.reset();
    this.limiter.reset();
    this.faults.reset();
    this.log.clear();
    this.log.clearCounters();
    this.oauth.reset();
    this.webhooks.reset();
    this.sent = [];
    this.missingConnectors.clear();
    this.store.grantStatusLagMs = this.initialStatusLagMs;
  }

  /**
   * From now on the API accepts only `key` (also as the OAuth client secret): requests with
   * any other key, the previous one included, answer 401 on every route. Not undone by reset.
   */
  setApiKey(key: string): void {
    if (typeof key !== "string" || key.trim() === "" || key !== key.trim())
      throw badRequest("api_key must be a non-empty string without surrounding spaces");
    this.apiKey = key;
  }

  /**
   * Which providers have a connector: `missing` names those without one (every provider has
   * one after a reset). Returns the providers without.
   */
  setConnectors(input: { missing: unknown }): { missing: Provider[] } {
    const m = input?.missing;
    if (!Array.isArray(m) || !m.every((p) => (PROVIDERS as readonly unknown[]).includes(p)))
      throw badRequest(`missing must be a list of providers (${PROVIDERS.join(", ")})`);
    this.missingConnectors = new Set(m as Provider[]);
    return this.connectors();
  }

  connectors(): { missing: Provider[] } {
    return { missing: [...this.missingConnectors] };
  }

  /**
   * `POST /v3/connect/custom` after the API key and the rate limit: the provider's grant for the
   * credentials' owner, created (`grant.created`) or re-authenticated (`grant.updated`).
   */
  customAuth(body: unknown): WireGrant {
    const r = readCustomAuth(body, (p) => !this.missingConnectors.has(p));
    const { state, created } = this.store.upsertGrantByEmail(r.email, r.provider, undefined);
    const grant = { ...this.store.reportedGrant(state) } as WireGrant;
    if (created) this.webhooks.grantCreated({ ...state.grant });
    else this.webhooks.grantUpdated({ ...state.grant }, true);
    return r.state !== undefined ? { ...grant, state: r.state } : grant;
  }

  seed(opts: SeedOptions): SeedResult {
    return seed(this.store, opts);
  }

  seedBulk(opts: BulkOptions): SeedResult {
    return seedBulk(this.store, opts);
  }

  addGrant(input: GrantInput): WireGrant {
    const grant = { ...this.store.addGrant(input).grant };
    this.webhooks.grantCreated(grant);
    return grant;
  }

  /** Deletes the grant and everything in it (Nylas' Delete Grant): `grant.deleted`. */
  deleteGrant(id: string): WireGrant {
    const grant = this.store.deleteGrant(id);
    this.webhooks.grantDeleted(grant);
    return grant;
  }

  grant(id: string): WireGrant {
    return { ...this.store.requireGrant(id).grant };
  }

  grantIds(): string[] {
    return this.store.grantOrder.map((g) => g.grant.id);
  }

  /**
   * The user's true local zone, which the seed and `expected` use: exposed as the calendar's
   * `timezone` only by Google and virtual calendars (UTC for a grant added without a zone).
   */
  grantZone(id: string): string {
    return this.store.requireGrant(id).zone;
  }

  /**
   * The grant needs re-authentication: its data routes answer 401 at once; GET /v3/grants and
   * /v3/grants/{id} report it `invalid` once the grant status lag (default 0) has passed.
   */
  invalidateGrant(id: string): WireGrant {
    const before = { ...this.store.requireGrant(id).grant };
    const grant = this.store.setGrantStatus(id, "invalid");
    if (before.grant_status === "valid") this.webhooks.grantExpired(grant, before.updated_at);
    return grant;
  }

  /** Replaces the grant's OAuth scopes (routes needing a scope it lacks answer 403). */
  setGrantScope(id: string, scope: string[]): WireGrant {
    return this.store.setGrantScope(id, scope);
  }

  /** How long (ms, sandbox clock) an invalidated grant is still reported `valid`; 0 = never. */
  setGrantStatusLag(ms: number): number {
    return this.store.setGrantStatusLag(ms);
  }

  grantStatusLag(): number {
    return this.store.grantStatusLagMs;
  }

  /** The user re-authenticated: `grant.updated` when it was invalid. */
  restoreGrant(id: string): WireGrant {
    const wasValid = this.store.requireGrant(id).grant.grant_status === "valid";
    const grant = this.store.setGrantStatus(id, "valid");
    if (!wasValid) this.webhooks.grantUpdated(grant, true);
    return grant;
  }

  addEvent(grantId: string, input: EventInput): WireEvent {
    const ev = this.store.addEvent(grantId, input);
    this.webhooks.eventChanged("event.created", this.store.requireGrant(grantId).grant, ev);
    return ev;
  }

  updateEvent(grantId: string, eventId: string, patch: Partial<EventInput>): WireEvent {
    const ev = this.store.updateEvent(grantId, eventId, patch);
    this.webhooks.eventChanged("event.updated", this.store.requireGrant(grantId).grant, ev);
    return ev;
  }

  /** Moves a timed event to a new start (epoch seconds), keeping its duration. */
  moveEvent(grantId: string, eventId: string, newStart: number): WireEvent {
    const ev = this.store.moveEvent(grantId, eventId, newStart);
    this.webhooks.eventChanged("event.updated", this.store.requireGrant(grantId).grant, ev);
    return ev;
  }

  deleteEvent(grantId: string, eventId: string): void {
    const ev = this.store.findEvent(grantId, eventId)?.rec.ev;
    this.store.deleteEvent(grantId, eventId);
    if (ev) this.webhooks.eventChanged("event.deleted", this.store.requireGrant(grantId).grant, ev);
  }

  /** Stored events of a grant (masters unexpanded) with their seed annotations. */
  events(grantId: string): { event: WireEvent; expected?: unknown }[] {
    const g = this.store.requireGrant(grantId);
    const out: { event: WireEvent; expected?: unknown }[] = [];
    for (const c of g.calendars.values()) {
      for (const r of [...c.index.singles, ...c.index.masters])
        out.push(r.expected ? { event: r.ev, expected: r.expected } : { event: r.ev });
    }
    return out;
  }

  setLatency(input: { ms?: number; jitterMs?: number; perClass?: LatencyConfig["perClass"] } | number): LatencyConfig {
    return this.faults.setLatency(typeof input === "number" ? { ms: input } : input);
  }

  injectFault(input: FaultInput): FaultRule {
    return this.faults.inject(input);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  pendingFaults(): FaultRule[] {
    return this.faults.rules.map((r) => ({ ...r }));
  }

  setLimits(input: LimitsInput): LimitsConfig {
    return this.limiter.set(input);
  }

  limits(): LimitsConfig {
    return structuredClone(this.limiter.config);
  }

  requestLog(filter?: RequestLogFilter): RequestLogEntry[] {
    return this.log.entries(filter);
  }

  clearRequestLog(): void {
    this.log.clear();
  }

  recordSent(grantId: string, rec: MessageRecord): void {
    this.sent.push({ grantId, rec });
  }

  sentMessages(filter: { grantId?: string; sinceMs?: number } = {}): SentMessage[] {
    const out: SentMessage[] = [];
    for (const { grantId, rec } of this.sent) {
      if (filter.grantId !== undefined && grantId !== filter.grantId) continue;
      if (filter.sinceMs !== undefined && rec.atMs < filter.sinceMs) continue;
      const m = rec.msg;
      out.push({
        grantId,
        messageId: m.id,
        threadId: m.thread_id,
        to: m.to.map((p) => p.email),
        cc: m.cc.map((p) => p.email),
        bcc: m.bcc.map((p) => p.email),
        subject: m.subject,
        body: m.body,
        customHeaders: rec.custom,
        at: rec.atMs,
      });
    }
    return out;
  }

  sentCount(): number {
    return this.sent.length;
  }

  counters(): Counters {
    return this.log.snapshotCounters();
  }

  clearCounters(): void {
    this.log.clearCounters();
  }

  /**
   * What a correct worker sends, under the given settings (policy per grant, maxRecipients,
   * minLeadMinutes, suppressed; see expected.ts): `GET /_sandbox/expected`.
   */
  expectedReminders(opts?: ExpectedOptions): ExpectedReminder[] {
    return expectedReminders(this.store, opts);
  }

  /** Every annotated event's decision and reason: `GET /_sandbox/expected?all=true`. */
  expectedDecisions(opts?: ExpectedOptions): ExpectedDecision[] {
    return expectedDecisions(this.store, opts);
  }
}

function parseNow(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) throw badRequest("now must be an ISO date-time or epoch milliseconds");
  return ms;
}

function num(q: URLSearchParams, k: string): number | undefined {
  const v = q.get(k);
  return v === null || v === "" ? undefined : int(v, k);
}

/** A request to a control route, with the path's `*` segments (grant and event ids) decoded, in order. */
interface ControlRequest {
  ctl: SandboxControl;
  ids: string[];
  q: URLSearchParams;
  body: unknown;
}

type ControlHandler = (r: ControlRequest) => unknown;

interface ControlEndpoint {
  method: string;
  /** Path segments after `_sandbox`; `*` matches any one segment. */
  pattern: readonly string[];
  handle: ControlHandler;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw badRequest("expected a JSON object body");
  return body as Record<string, unknown>;
}

function seedGrants({ ctl, body }: ControlRequest): SeedResult {
  const b = objectBody(body);
  const opts: SeedOptions = { grants: b.grants as number };
  if (b.seed !== undefined) opts.seed = b.seed as number;
  if (b.days !== undefined) opts.days = b.days as number;
  const now = parseNow(b.now);
  if (now !== undefined) opts.now = now;
  return ctl.seed(opts);
}

function seedBulkGrants({ ctl, body }: ControlRequest): SeedResult {
  const b = objectBody(body);
  const opts: BulkOptions = { grants: b.grants as number };
  if (b.meetingsPerGrant !== undefined) opts.meetingsPerGrant = b.meetingsPerGrant as number;
  if (b.seed !== undefined) opts.seed = b.seed as number;
  if (b.provider !== undefined) opts.provider = b.provider as BulkOptions["provider"];
  const now = parseNow(b.now);
  if (now !== undefined) opts.now = now;
  return ctl.seedBulk(opts);
}

function listGrants({ ctl, q }: ControlRequest): unknown {
  const limit = num(q, "limit") ?? 100;
  const offset = num(q, "offset") ?? 0;
  return {
    total: ctl.store.grantOrder.length,
    data: ctl.store.grantOrder.slice(offset, offset + limit).map((g) => ({
      ...g.grant,
      zone: g.zone,
      calendar_timezone: g.calendars.get(g.primaryCalendarId)?.wire.timezone ?? null,
    })),
  };
}

function showGrant({ ctl, ids }: ControlRequest): unknown {
  const g = ctl.store.requireGrant(ids[0]!);
  const cal = g.calendars.get(g.primaryCalendarId);
  return {
    grant: g.grant,
    zone: g.zone,
    calendar: cal?.wire ?? null,
    events: cal?.index.size ?? 0,
    messages: g.messages.length,
  };
}

function listRequests({ ctl, q }: ControlRequest): unknown {
  const f: RequestLogFilter = {};
  const sinceSeq = num(q, "since_seq");
  if (sinceSeq !== undefined) f.sinceSeq = sinceSeq;
  const sinceMs = num(q, "since_ms");
  if (sinceMs !== undefined) f.sinceMs = sinceMs;
  const status = num(q, "status");
  if (status !== undefined) f.status = status;
  const grantId = q.get("grant_id");
  if (grantId) f.grantId = grantId;
  const route = q.get("route");
  if (route) {
    if (!ROUTES.includes(route as RouteName)) throw badRequest(`route must be one of ${ROUTES.join(", ")}`);
    f.route = route as RouteName;
  }
  f.limit = num(q, "limit") ?? 10_000;
  return { next_seq: ctl.log.nextSeq, data: ctl.requestLog(f) };
}

function listSent({ ctl, q }: ControlRequest): unknown {
  const f: { grantId?: string; sinceMs?: number } = {};
  const grantId = q.get("grant_id");
  if (grantId) f.grantId = grantId;
  const sinceMs = num(q, "since_ms");
  if (sinceMs !== undefined) f.sinceMs = sinceMs;
  return { data: ctl.sentMessages(f) };
}

function listExpected({ ctl, q }: ControlRequest): unknown {
  const opts = expectedOptionsFrom(q, (v) => parseNow(v)!);
  return { data: q.get("all") === "true" ? ctl.expectedDecisions(opts) : ctl.expectedReminders(opts) };
}

function listDeliveries({ ctl, q }: ControlRequest): unknown {
  const f: DeliveryFilter = {};
  const str = (k: string) => q.get(k) || undefined;
  if (str("notification_id")) f.notificationId = str("notification_id");
  if (str("destination_id")) f.destinationId = str("destination_id");
  if (str("grant_id")) f.grantId = str("grant_id");
  if (str("type")) f.type = str("type");
  if (str("state")) f.state = str("state") as DeliveryState;
  const sinceSeq = num(q, "since_seq");
  if (sinceSeq !== undefined) f.sinceSeq = sinceSeq;
  return { data: ctl.webhooks.deliveries(f) };
}

/** Waits (at most `timeoutMs`, default 30 s) until no delivery is pending; `expedite` skips waits. */
async function flushWebhooks({ ctl, body }: ControlRequest): Promise<unknown> {
  const b = body === undefined ? {} : objectBody(body);
  const opts: { timeoutMs?: number; expedite?: boolean } = {};
  if (b.timeoutMs !== undefined) opts.timeoutMs = int(b.timeoutMs, "timeoutMs", 0, 600_000);
  if (b.expedite !== undefined) {
    if (typeof b.expedite !== "boolean") throw badRequest("expedite must be true or false");
    opts.expedite = b.expedite;
  }
  return ctl.webhooks.flush(opts);
}

function releaseWebhooks({ ctl, body }: ControlRequest): unknown {
  const b = body === undefined ? {} : objectBody(body);
  const opts: { order?: ReleaseOrder; limit?: number } = {};
  if (b.order !== undefined) {
    if (b.order !== "emitted" && b.order !== "reverse" && b.order !== "random")
      throw badRequest("order must be emitted, reverse or random");
    opts.order = b.order;
  }
  if (b.limit !== undefined) opts.limit = int(b.limit, "limit", 0);
  return { released: ctl.webhooks.release(opts) };
}

const endpoint = (method: string, path: string, handle: ControlHandler): ControlEndpoint => ({
  method,
  pattern: path.split("/"),
  handle,
});

/** Every route under /_sandbox/; the first whose method and pattern match handles the request. */
const CONTROL_ENDPOINTS: readonly ControlEndpoint[] = [
  endpoint("GET", "health", ({ ctl }) => ({ ok: true, grants: ctl.store.grantOrder.length })),
  endpoint("POST", "reset", ({ ctl }) => {
    ctl.reset();
    return { ok: true };
  }),
  endpoint("POST", "api-key", ({ ctl, body }) => {
    ctl.setApiKey(objectBody(body).api_key as string);
    return { ok: true };
  }),
  endpoint("POST", "seed", seedGrants),
  endpoint("POST", "seed-bulk", seedBulkGrants),
  endpoint("GET", "grants", listGrants),
  endpoint("POST", "grants", ({ ctl, body }) => ctl.addGrant(objectBody(body) as unknown as GrantInput)),
  endpoint("GET", "grants/*", showGrant),
  endpoint("POST", "grants/*/invalidate", ({ ctl, ids }) => ctl.invalidateGrant(ids[0]!)),
  endpoint("POST", "grants/*/restore", ({ ctl, ids }) => ctl.restoreGrant(ids[0]!)),
  endpoint("POST", "grants/*/scope", ({ ctl, ids, body }) =>
    ctl.setGrantScope(ids[0]!, objectBody(body).scope as string[]),
  ),
  endpoint("GET", "grant-status-lag", ({ ctl }) => ({ ms: ctl.grantStatusLag() })),
  endpoint("POST", "grant-status-lag", ({ ctl, body }) => ({
    ms: ctl.setGrantStatusLag(objectBody(body).ms as number),
  })),
  endpoint("GET", "grants/*/events", ({ ctl, ids }) => ({ data: ctl.events(ids[0]!) })),
  endpoint("POST", "grants/*/events", ({ ctl, ids, body }) =>
    ctl.addEvent(ids[0]!, objectBody(body) as unknown as EventInput),
  ),
  endpoint("PATCH", "grants/*/events/*", ({ ctl, ids, body }) =>
    ctl.updateEvent(ids[0]!, ids[1]!, objectBody(body) as Partial<EventInput>),
  ),
  endpoint("POST", "grants/*/events/*/move", ({ ctl, ids, body }) =>
    ctl.moveEvent(ids[0]!, ids[1]!, int(objectBody(body).start, "start", 0)),
  ),
  endpoint("DELETE", "grants/*/events/*", ({ ctl, ids }) => {
    ctl.deleteEvent(ids[0]!, ids[1]!);
    return { ok: true };
  }),
  endpoint("GET", "latency", ({ ctl }) => ctl.faults.latency),
  endpoint("POST", "latency", ({ ctl, body }) =>
    ctl.setLatency(objectBody(body) as Parameters<SandboxControl["setLatency"]>[0]),
  ),
  endpoint("GET", "faults", ({ ctl }) => ({ data: ctl.pendingFaults() })),
  endpoint("POST", "faults", ({ ctl, body }) => ctl.injectFault(objectBody(body) as unknown as FaultInput)),
  endpoint("DELETE", "faults", ({ ctl }) => {
    ctl.clearFaults();
    return { ok: true };
  }),
  endpoint("GET", "connectors", ({ ctl }) => ctl.connectors()),
  endpoint("POST", "connectors", ({ ctl, body }) => ctl.setConnectors(objectBody(body) as { missing: unknown })),
  endpoint("GET", "limits", ({ ctl }) => ctl.limits()),
  endpoint("POST", "limits", ({ ctl, body }) => ctl.setLimits(objectBody(body) as LimitsInput)),
  endpoint("GET", "requests", listRequests),
  endpoint("DELETE", "requests", ({ ctl }) => {
    ctl.clearRequestLog();
    return { ok: true };
  }),
  endpoint("GET", "sent", listSent),
  endpoint("GET", "counters", ({ ctl }) => ctl.counters()),
  endpoint("DELETE", "counters", ({ ctl }) => {
    ctl.clearCounters();
    return { ok: true };
  }),
  endpoint("GET", "expected", listExpected),
  endpoint("DELETE", "grants/*", ({ ctl, ids }) => ctl.deleteGrant(ids[0]!)),
  endpoint("GET", "webhooks", ({ ctl }) => ctl.webhooks.overview()),
  endpoint("POST", "webhooks/config", ({ ctl, body }) => ctl.webhooks.configure(body)),
  endpoint("GET", "webhooks/deliveries", listDeliveries),
  endpoint("DELETE", "webhooks/deliveries", ({ ctl }) => {
    ctl.webhooks.sender.clearLog();
    return { ok: true };
  }),
  endpoint("POST", "webhooks/flush", flushWebhooks),
  endpoint("POST", "webhooks/release", releaseWebhooks),
];

/**
 * Routes under /_sandbox/. Returns the JSON to send with status 200 (or a promise of it, for
 * the routes that wait), or throws ApiError.
 * Plain Errors from seeding (bad options) become 400s with their message.
 */
export function controlRoute(
  ctl: SandboxControl,
  method: string,
  path: string,
  q: URLSearchParams,
  body: unknown,
): unknown {
  const seg = path.split("/").filter(Boolean).slice(1).map(decodeURIComponent); // drop "_sandbox"
  const match = CONTROL_ENDPOINTS.find(
    (r) =>
      r.method === method && r.pattern.length === seg.length && r.pattern.every((p, i) => p === "*" || p === seg[i]),
  );
  if (!match) throw notFound(`no sandbox control route ${method} ${path}`);
  const ids = seg.filter((_, i) => match.pattern[i] === "*");
  const asApiError = (err: unknown): never => {
    if (err instanceof ApiError) throw err;
    throw badRequest((err as Error).message);
  };
  try {
    const out = match.handle({ ctl, ids, q, body });
    return out instanceof Promise ? out.catch(asApiError) : out;
  } catch (err) {
    return asApiError(err);
  }
}
