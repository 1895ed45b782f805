/**
 * The HTTP face of the sandbox: plain node:http, hand-rolled routing, Nylas' auth, envelope
 * and error shapes, with latency, injected faults and rate limits applied per request.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  findCalendar,
  findEvent,
  findGrant,
  findMessage,
  getFolder,
  getFolders,
  getMessages,
  GrantSortCache,
  listCalendars,
  listEvents,
  listGrants,
  sendMessage,
  type Json,
} from "./api.js";
import { controlRoute, SandboxControl } from "./control.js";
import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_RESPONSE_HEADER,
  payloadFingerprint,
  readIdempotencyKey,
  type KeyDecision,
} from "./idempotency.js";
import { ApiError, badRequest, notFound, OAuthError, type LogNote } from "./errors.js";
import type { RouteClass } from "./faults.js";
import { admit, countRead, isProviderRead } from "./gate.js";
import type { LimitsInput } from "./limits.js";
import type { RouteName } from "./log.js";
import type { SeedOptions } from "./seed.js";
import type { GrantState } from "./store.js";
import { isObject } from "./validate.js";
import type { WebhookRegistration, WebhookRouteName, WebhooksOptions } from "./webhooks.js";

export interface SandboxOptions {
  /** 0 = a random free port (default). */
  port?: number;
  host?: string;
  apiKey?: string;
  /** The application's client id for hosted OAuth. */
  clientId?: string;
  /** Seed on start: a grant count, or full seed options. */
  seed?: number | SeedOptions;
  latencyMs?: number;
  limits?: LimitsInput;
  /** Clock for message dates, default event windows and OAuth expiry (default Date.now). */
  now?: () => number;
  /** Request-log ring size (default 500k entries, ~10 MB when full). */
  requestLogCapacity?: number;
  /** Webhook delivery settings; the delivery plan's seed defaults to the data seed. */
  webhooks?: Omit<WebhooksOptions, "applicationId" | "now">;
  /** A destination registered at start, challenge included (startSandbox fails if it fails). */
  webhook?: WebhookRegistration;
  /** GET /v3/grants keeps reporting an invalidated grant as valid this long (ms; default 0). */
  grantStatusLagMs?: number;
}

export const DEFAULT_API_KEY = "nyk_sandbox_key";
export const DEFAULT_CLIENT_ID = "sandbox-client-id";
const MAX_BODY = 5 * 1024 * 1024;

interface Route {
  name: RouteName;
  cls?: RouteClass;
  grantId?: string;
  /** Second id in the path (calendar, event or message id). */
  sub?: string;
}

function matchRoute(method: string, path: string): Route | undefined {
  const s = path.split("/");
  // s[0] is "" (leading slash)
  if (s[1] !== "v3") return undefined;
  const n = s.length;
  if (s[2] === "connect") {
    if (method === "GET" && n === 4 && s[3] === "auth") return { name: "connect.auth", cls: "oauth" };
    if (method === "POST" && n === 5 && s[3] === "auth" && s[4] === "consent")
      return { name: "connect.consent", cls: "oauth" };
    if (method === "POST" && n === 4 && s[3] === "token") return { name: "connect.token", cls: "oauth" };
    // Custom authentication takes the application's API key, unlike the OAuth routes.
    if (method === "POST" && n === 4 && s[3] === "custom") return { name: "connect.custom", cls: "auth" };
    return undefined;
  }
  if (s[2] === "webhooks") return matchWebhookRoute(method, s);
  if (s[2] !== "grants") return undefined;
  if (n === 3) return method === "GET" ? { name: "grants.list", cls: "grants" } : undefined;
  let grantId: string;
  try {
    grantId = decodeURIComponent(s[3]!);
  } catch {
    return undefined;
  }
  if (!grantId) return undefined;
  if (n === 4) return method === "GET" ? { name: "grants.find", cls: "grants", grantId } : undefined;
  const res = s[4];
  const sub = n === 6 ? safeDecode(s[5]!) : undefined;
  if (res === "calendars" && method === "GET") {
    if (n === 5) return { name: "calendars.list", cls: "calendars", grantId };
    if (n === 6 && sub) return { name: "calendars.find", cls: "calendars", grantId, sub };
  }
  if (res === "events" && method === "GET") {
    if (n === 5) return { name: "events.list", cls: "events", grantId };
    if (n === 6 && sub) return { name: "events.find", cls: "events", grantId, sub };
  }
  if (res === "folders" && method === "GET") {
    if (n === 5) return { name: "folders.list", cls: "folders", grantId };
    if (n === 6 && sub) return { name: "folders.find", cls: "folders", grantId, sub };
  }
  if (res === "messages") {
    if (n === 6 && s[5] === "send")
      return method === "POST" ? { name: "messages.send", cls: "send", grantId } : undefined;
    if (method === "GET" && n === 5) return { name: "messages.list", cls: "messages", grantId };
    if (method === "GET" && n === 6 && sub) return { name: "messages.find", cls: "messages", grantId, sub };
  }
  return undefined;
}

/** `/v3/webhooks`, `/v3/webhooks/{id}`, `/v3/webhooks/rotate-secret/{id}` (administration.yaml). */
function matchWebhookRoute(method: string, s: string[]): Route | undefined {
  if (s.length === 3) {
    if (method === "GET") return { name: "webhooks.list" };
    return method === "POST" ? { name: "webhooks.create" } : undefined;
  }
  if (s.length === 5 && s[3] === "rotate-secret" && method === "POST") {
    const sub = safeDecode(s[4]!);
    return sub ? { name: "webhooks.rotate_secret", sub } : undefined;
  }
  const sub = s.length === 4 ? safeDecode(s[3]!) : undefined;
  if (!sub) return undefined;
  const names: Record<string, RouteName> = { GET: "webhooks.find", PUT: "webhooks.update", DELETE: "webhooks.delete" };
  return names[method] ? { name: names[method], sub } : undefined;
}

function safeDecode(v: string): string | undefined {
  try {
    return decodeURIComponent(v);
  } catch {
    return undefined;
  }
}

/** Bodies being read, so that reading can start before the injected latency. */
const bodies = new WeakMap<IncomingMessage, Promise<string>>();

function readBody(req: IncomingMessage): Promise<string> {
  let body = bodies.get(req);
  if (!body) {
    body = readBodyOnce(req);
    bodies.set(req, body);
  }
  return body;
}

function readBodyOnce(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ApiError(413, "invalid_request_error", "request body is larger than 5 MB"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function parseBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.length === 0) return undefined;
  const type = (req.headers["content-type"] ?? "").toLowerCase();
  if (type.includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(text));
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest("error parsing request body: invalid JSON");
  }
}

const FAULT_TYPES: Record<number, [string, string]> = {
  // A provider refusing one request for its own reasons (Gmail's "message rejected", say).
  400: ["invalid_request_error", "The provider refused the request (injected by the sandbox)."],
  500: ["internal_error", "Internal server error (injected by the sandbox)."],
  502: ["bad_gateway", "Bad gateway (injected by the sandbox)."],
  503: ["service_unavailable", "Service temporarily unavailable (injected by the sandbox)."],
  504: ["provider_error", "Provider request timed out (injected by the sandbox)."],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What one request's handling learned on the way, for the answer around it. */
interface DispatchContext {
  /** The send handler took the request (its answers are kept under an Idempotency-Key). */
  sendAttempted: boolean;
  /** Messages come back with empty headers (an injected "hide_headers" fault). */
  hideHeaders: boolean;
}

export class Sandbox extends SandboxControl {
  readonly server: Server;
  url = "";
  port = 0;
  readonly host: string;
  private readonly grantSort = new GrantSortCache();

  constructor(opts: SandboxOptions = {}) {
    const base: ConstructorParameters<typeof SandboxControl>[0] = {
      apiKey: opts.apiKey ?? DEFAULT_API_KEY,
      clientId: opts.clientId ?? DEFAULT_CLIENT_ID,
    };
    if (opts.now) base.now = opts.now;
    if (opts.requestLogCapacity !== undefined) base.requestLogCapacity = opts.requestLogCapacity;
    const dataSeed = typeof opts.seed === "object" ? opts.seed.seed : undefined;
    base.webhooks = { ...opts.webhooks, delivery: { seed: dataSeed ?? 1, ...opts.webhooks?.delivery } };
    if (opts.grantStatusLagMs !== undefined) base.grantStatusLagMs = opts.grantStatusLagMs;
    super(base);
    this.host = opts.host ?? "127.0.0.1";
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // Last resort: never let a handler bug take the process down.
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              request_id: randomUUID(),
              error: { type: "internal_error", message: String((err as Error)?.message ?? err) },
            }),
          );
        }
      });
    });
    // Clients (undici) keep connections alive ~4 s; stay open longer so they never race a close.
    this.server.keepAliveTimeout = 10_000;
    this.server.headersTimeout = 15_000;
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, this.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    const h = this.host.includes(":") ? `[${this.host}]` : this.host;
    this.url = `http://${h}:${this.port}`;
    return this;
  }

  async close(): Promise<void> {
    this.webhooks.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const requestId = randomUUID();
    const method = req.method ?? "GET";
    const raw = req.url ?? "/";
    const qi = raw.indexOf("?");
    const path = qi < 0 ? raw : raw.slice(0, qi);
    const query = new URLSearchParams(qi < 0 ? "" : raw.slice(qi + 1));

    if (path === "/_sandbox" || path.startsWith("/_sandbox/")) {
      try {
        const body = method === "GET" || method === "DELETE" ? undefined : await parseBody(req);
        this.json(res, 200, requestId, (await controlRoute(this, method, path, query, body)) as Json, false);
      } catch (err) {
        this.fail(res, requestId, err);
      }
      return;
    }

    const route = matchRoute(method, path);
    let note: LogNote = "none";
    let status = 0;
    const log = () =>
      this.log.push({
        method,
        route: route?.name ?? "other",
        path,
        grantId: route?.grantId,
        status,
        ms: performance.now() - t0,
        at: Date.now(),
        note,
      } as Parameters<typeof this.log.push>[0]);
    // A send's Idempotency-Key (see idempotency.ts): decided when the request arrives, so a
    // retry during the first request's latency meets it in flight.
    let idem: KeyDecision | undefined;
    let idemRefusal: unknown;
    const work: DispatchContext = { sendAttempted: false, hideHeaders: false };
    try {
      if (!route) throw notFound(`Unknown route ${method} ${path}`);
      if (route.cls !== "oauth") this.authenticate(req);
      // The body comes with the request, as on the wire: a request whose client hangs up
      // during the latency is still carried out (a send goes out nobody hears about).
      if (method === "POST") readBody(req).catch(() => {});
      if (route.name === "messages.send" && req.headers[IDEMPOTENCY_KEY_HEADER] !== undefined) {
        try {
          const key = readIdempotencyKey(req.headers[IDEMPOTENCY_KEY_HEADER]);
          if (key !== undefined)
            idem = this.idempotency.begin(route.grantId!, key, payloadFingerprint(await parseBody(req)));
        } catch (err) {
          idemRefusal = err; // answered after the latency and faults, like any other answer
        }
      }
      const delay = this.faults.delayFor(route.cls);
      if (delay > 0) await sleep(delay);
      const fault = this.faults.take(route.grantId, route.cls);
      let dropAfter = false;
      if (fault) {
        if (fault.kind === "drop") {
          note = "dropped";
          req.socket.destroy();
          log();
          return;
        }
        if (fault.kind === "drop_after") dropAfter = true;
        else if (fault.kind === "hide_headers") {
          work.hideHeaders = true;
          note = "headers_hidden";
        } else if (fault.kind === 429) {
          const retryAfter = String(fault.retryAfterS ?? 1);
          throw new ApiError(
            429,
            "rate_limit_error",
            `Too many requests (injected by the sandbox); retry after ${retryAfter} second(s).`,
            undefined,
            { "retry-after": retryAfter },
            "injected",
          );
        } else {
          const [type, message] = FAULT_TYPES[fault.kind]!;
          throw new ApiError(fault.kind, type, message, undefined, {}, "injected");
        }
      }
      if (idemRefusal) throw idemRefusal;
      if (idem?.kind === "replay") {
        // The first answer again; nothing is sent.
        const kept = idem.entry;
        if (dropAfter) {
          note = "dropped_after";
          req.socket.destroy();
          log();
          return;
        }
        note = "idempotent_replay";
        status = kept.status!;
        res.writeHead(status, {
          "content-type": "application/json",
          "x-request-id": requestId,
          ...kept.headers,
          [IDEMPOTENT_RESPONSE_HEADER]: "true",
        });
        res.end(JSON.stringify(kept.body));
        log();
        return;
      }
      const out = await this.dispatch(route, req, query, work);
      const payload = out.kind === "json" ? { request_id: requestId, ...out.body } : undefined;
      if (idem?.kind === "new" && out.kind === "json") this.idempotency.settle(idem.entry, out.status ?? 200, payload!);
      if (dropAfter) {
        // The work happened (e.g. the mail went out) but the client never hears about it.
        note = "dropped_after";
        status = 0;
        req.socket.destroy();
        log();
        return;
      }
      if (out.kind === "json") status = this.json(res, out.status ?? 200, requestId, payload!, false);
      else if (out.kind === "html") {
        status = 200;
        res.writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "x-request-id": requestId,
          "cache-control": "no-store",
        });
        res.end(out.html);
      } else {
        status = 302;
        res.writeHead(302, { location: out.location, "x-request-id": requestId, "cache-control": "no-store" });
        res.end();
      }
    } catch (err) {
      if (err instanceof ApiError) note = err.note;
      // The send's own refusals are kept under its key (see idempotency.ts); a refusal before
      // the send was attempted (grant, Nylas' limit, an injected fault) releases the key.
      if (idem?.kind === "new" && work.sendAttempted && err instanceof ApiError)
        this.idempotency.settle(idem.entry, err.status, err.body(requestId), err.headers);
      status = this.fail(res, requestId, err);
    } finally {
      // Not carried out (dropped before the work, refused, a handler bug): a retry may send.
      if (idem?.kind === "new" && idem.entry.state === "in_flight") this.idempotency.release(idem.entry);
    }
    log();
  }

  private authenticate(req: IncomingMessage): void {
    const h = req.headers.authorization;
    if (!h || !h.startsWith("Bearer ")) {
      throw new ApiError(
        401,
        "unauthorized",
        "Unauthorized: missing Authorization: Bearer <API key> header",
        undefined,
        {},
        "unauthorized",
      );
    }
    if (h.slice(7).trim() !== this.apiKey)
      throw new ApiError(401, "unauthorized", "Unauthorized: invalid API key", undefined, {}, "unauthorized");
  }

  /** The grant behind a data route: 404 if unknown, 401 if it needs re-authentication. */
  private dataGrant(grantId: string): GrantState {
    const g = this.store.getGrant(grantId);
    if (!g) throw notFound(`grant ${grantId} not found`);
    if (g.grant.grant_status !== "valid") {
      throw new ApiError(
        401,
        "unauthorized",
        "Grant is invalid: the user must re-authenticate (grant_status=invalid).",
        { error: "invalid_grant", message: "Token has been expired or revoked." },
        {},
        "grant_invalid",
      );
    }
    return g;
  }

  private async dispatch(
    route: Route,
    req: IncomingMessage,
    q: URLSearchParams,
    work: DispatchContext,
  ): Promise<
    | { kind: "json"; body: Json; status?: number }
    | { kind: "html"; html: string }
    | { kind: "redirect"; location: string }
  > {
    switch (route.name) {
      case "connect.auth":
        return { kind: "html", html: this.oauth.authorize(q) };
      case "connect.consent": {
        const body = await parseBody(req);
        const form = new URLSearchParams(isObject(body) ? (body as Record<string, string>) : {});
        return { kind: "redirect", location: this.oauth.consent(form) };
      }
      case "connect.token": {
        const body = await parseBody(req);
        if (!isObject(body)) throw new OAuthError(400, "invalid_request", "Expected a JSON or form body");
        return { kind: "json", body: this.oauth.token(body) as unknown as Json };
      }
      case "connect.custom": {
        const retry = this.limiter.hitAuth(Date.now());
        if (retry > 0)
          throw new ApiError(
            429,
            "nylas_rate_limit_exceeded",
            `Too many requests: the application's authentication routes allow ${this.limiter.config.authRequestsPerSecond} per second.`,
            undefined,
            { "retry-after": String(retry) },
            "nylas_rate_limit",
          );
        return { kind: "json", status: 201, body: { data: this.customAuth(await parseBody(req)) as unknown as Json } };
      }
      case "grants.list":
        return { kind: "json", body: listGrants(this.store, q, this.grantSort) };
      case "grants.find":
        return { kind: "json", body: findGrant(this.store, route.grantId!) };
      default:
        if (route.name.startsWith("webhooks.")) {
          const body =
            route.name === "webhooks.create" || route.name === "webhooks.update" ? await parseBody(req) : undefined;
          return { kind: "json", body: await this.webhooks.api(route.name as WebhookRouteName, route.sub, body) };
        }
        break;
    }
    const grantId = route.grantId!;
    const retry = this.limiter.hitRequest(grantId, Date.now());
    if (retry > 0) {
      throw new ApiError(
        429,
        "nylas_rate_limit_exceeded",
        `Too many requests for grant ${grantId}; retry after ${retry} second(s).`,
        undefined,
        { "retry-after": String(retry) },
        "nylas_rate_limit",
      );
    }
    const g = this.dataGrant(grantId);
    admit(g, route.name, this.limiter, Date.now());
    if (isProviderRead(route.name)) {
      const body = this.read(route, g, q, work);
      countRead(g, this.limiter, Date.now());
      return { kind: "json", body };
    }
    switch (route.name) {
      case "messages.send": {
        const body = await parseBody(req);
        work.sendAttempted = true;
        return {
          kind: "json",
          body: sendMessage(g, body, this.limiter, this.store.now(), (rec) => this.recordSent(grantId, rec)),
        };
      }
      default:
        throw notFound(`Unknown route ${route.name}`);
    }
  }

  /** The read routes of a grant (answered before the provider's read budget is counted). */
  private read(route: Route, g: GrantState, q: URLSearchParams, work: DispatchContext): Json {
    switch (route.name) {
      case "calendars.list":
        return listCalendars(g);
      case "calendars.find":
        return findCalendar(this.store, g, route.sub!);
      case "events.list":
        return listEvents(this.store, g, q);
      case "events.find":
        return findEvent(this.store, g, route.sub!, q);
      case "messages.list":
        return getMessages(g, q, work.hideHeaders);
      case "messages.find":
        return findMessage(g, route.sub!, q, work.hideHeaders);
      case "folders.list":
        return getFolders(g, q);
      case "folders.find":
        return getFolder(g, route.sub!);
      default:
        throw notFound(`Unknown route ${route.name}`);
    }
  }

  private json(res: ServerResponse, status: number, requestId: string, body: Json, withId: boolean): number {
    const payload = withId ? { request_id: requestId, ...body } : body;
    res.writeHead(status, { "content-type": "application/json", "x-request-id": requestId });
    res.end(JSON.stringify(payload));
    return status;
  }

  private fail(res: ServerResponse, requestId: string, err: unknown): number {
    if (err instanceof OAuthError) {
      res.writeHead(err.status, { "content-type": "application/json", "x-request-id": requestId });
      res.end(JSON.stringify(err.body(requestId)));
      return err.status;
    }
    const e =
      err instanceof ApiError
        ? err
        : new ApiError(500, "internal_error", `Sandbox error: ${(err as Error)?.message ?? String(err)}`);
    if (res.headersSent) {
      res.destroy();
      return e.status;
    }
    res.writeHead(e.status, { "content-type": "application/json", "x-request-id": requestId, ...e.headers });
    res.end(JSON.stringify(e.body(requestId)));
    return e.status;
  }
}

/** Starts a sandbox on 127.0.0.1 (random port by default), optionally seeded. */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const sb = new Sandbox(opts);
  if (opts.limits) sb.setLimits(opts.limits);
  if (opts.latencyMs) sb.setLatency({ ms: opts.latencyMs });
  if (opts.seed !== undefined) sb.seed(typeof opts.seed === "number" ? { grants: opts.seed } : opts.seed);
  await sb.listen(opts.port ?? 0);
  if (opts.webhook) {
    try {
      await sb.webhooks.register(opts.webhook);
    } catch (err) {
      await sb.close();
      throw err;
    }
  }
  return sb;
}
