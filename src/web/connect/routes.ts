import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { Db } from "../../db/client.js";
import { grantAuthorised } from "../../grants/authorised.js";
import { describeZoneSource, normalizeZone, type ZoneSource } from "../../grants/zone-source.js";
import type { Logger } from "../../log/logger.js";
import type { NylasApi } from "../../nylas/client.js";
import type { RunsQueue } from "../../runs/queue.js";
import { clockNow } from "../../time/clock.js";
import { errorPage, esc, page, PAGE_HEADERS, pageHeadersWithScript } from "../html.js";
import { claimState } from "./claim.js";
import { exchangeCode, ExchangeError, type ExchangedGrant } from "./exchange.js";
import { scopesFor, type Access } from "../../nylas/providers.js";
import {
  CONNECT_COOKIE,
  CONNECT_TTL_S,
  newPkce,
  newState,
  openState,
  sameString,
  sealState,
  type Opened,
} from "./state.js";

export interface ConnectSettings {
  /** Unset: the routes answer 503 with a page saying what to configure. */
  clientId?: string;
  apiKey: string;
  apiUri: string;
  sessionSecret: string;
  /** Where Nylas sends the browser back: `${PUBLIC_URL}/connect/callback`. */
  redirectUri: string;
  defaultTimeZone: string;
  defaultSendHour: number;
}

export interface ConnectDeps {
  db: Db;
  nylas: NylasApi;
  runsQueue: RunsQueue;
  /** Where a sign-in's state is marked used (no offline queue: a dead Redis fails fast). */
  redis: Redis;
  /** Prefix of the keys in `redis` (the queue prefix). */
  prefix: string;
  log: Logger;
  settings: ConnectSettings;
  fetch?: typeof fetch;
  now?: () => Date;
}

/** What the worker asks each user for: the least it needs (mail read only serves the Sent check). */
const REQUESTED_ACCESS: Access[] = ["calendar_read", "mail_send", "mail_read"];

const PROVIDERS = new Set(["google", "microsoft", "imap", "icloud", "yahoo", "ews"]);
const EMAIL = /^[^\s@<>"']{1,200}@[^\s@<>"']{1,200}$/;

type ConnectQuery = { email?: string; provider?: string; tz?: string };
type CallbackQuery = Record<string, string | string[] | undefined>;
type CookieOptions = ReturnType<typeof cookieOptions>;

/**
 * Reads the browser's IANA zone and goes on to /connect/start with it as `tz`; without a zone
 * (or without JavaScript, where the link is followed by hand) it goes on without one.
 */
const ZONE_SCRIPT =
  '(function(){var a=document.getElementById("continue");var u=new URL(a.href);' +
  'try{var z=Intl.DateTimeFormat().resolvedOptions().timeZone;if(z)u.searchParams.set("tz",z)}catch(e){}' +
  "location.replace(u.href)})();";
const ZONE_SCRIPT_HEADERS = pageHeadersWithScript(
  `sha256-${createHash("sha256").update(ZONE_SCRIPT).digest("base64")}`,
);

/**
 * Hosted OAuth: GET /connect is a small page that reads the browser's time zone (it works
 * without JavaScript too, without a zone) and goes on to GET /connect/start, which sends the
 * browser to Nylas' /v3/connect/auth with a fresh state and PKCE S256 challenge, both bound to
 * the browser by an encrypted cookie that also carries the zone; GET /connect/callback checks
 * them, marks the state used (once only), exchanges the code and stores the grant with the
 * zone among its sources. Nothing from the callback's query string is shown before its state
 * proved to be ours.
 */
export async function connectRoutes(app: FastifyInstance, deps: ConnectDeps): Promise<void> {
  const cookie = cookieOptions(deps.settings);
  app.get("/connect", async (req: FastifyRequest<{ Querystring: ConnectQuery }>, reply) =>
    zonePage(deps.settings, req, reply),
  );
  app.get("/connect/start", async (req: FastifyRequest<{ Querystring: ConnectQuery }>, reply) =>
    startSignIn(deps, cookie, req, reply),
  );
  app.get("/connect/callback", async (req: FastifyRequest<{ Querystring: CallbackQuery }>, reply) =>
    finishSignIn(deps, cookie, req, reply),
  );
}

function cookieOptions(settings: ConnectSettings) {
  const secure = settings.redirectUri.startsWith("https:");
  return { path: "/connect", httpOnly: true, sameSite: "lax" as const, secure };
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send(body);
}

function notConfigured(reply: FastifyReply): FastifyReply {
  return html(
    reply,
    503,
    errorPage(
      "Connecting is not configured",
      "This deployment has no NYLAS_CLIENT_ID; ask the operator to set it.",
      "",
    ),
  );
}

/** GET /connect: reads the browser's zone (inline script) and goes on to /connect/start. */
async function zonePage(
  settings: ConnectSettings,
  req: FastifyRequest<{ Querystring: ConnectQuery }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  if (!settings.clientId) return notConfigured(reply);
  const q = req.query ?? {};
  const problem = linkProblem(q);
  if (problem) return html(reply, 400, errorPage("Cannot connect", problem));
  const next = new URLSearchParams();
  if (q.email) next.set("email", q.email);
  if (q.provider) next.set("provider", q.provider);
  const href = `/connect/start${next.size > 0 ? `?${next.toString()}` : ""}`;
  const body = [
    `<p>Reminders of your meetings go out in your own time zone; this page reads it from your browser.</p>`,
    `<p><a id="continue" href="${esc(href)}">Continue to sign in</a></p>`,
    `<script>${ZONE_SCRIPT}</script>`,
  ].join("\n");
  return reply.code(200).headers(ZONE_SCRIPT_HEADERS).send(page("Connect your calendar", body));
}

/**
 * GET /connect/start: the browser goes to Nylas with a fresh state and PKCE challenge, sealed
 * in a cookie with the browser's zone (`tz`, kept only when it is an IANA zone).
 */
async function startSignIn(
  deps: ConnectDeps,
  cookie: CookieOptions,
  req: FastifyRequest<{ Querystring: ConnectQuery }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { settings } = deps;
  if (!settings.clientId) return notConfigured(reply);
  const q = req.query ?? {};
  const problem = linkProblem(q);
  if (problem) return html(reply, 400, errorPage("Cannot connect", problem));
  const zone = normalizeZone(q.tz);
  if (q.tz !== undefined && zone === undefined)
    deps.log.info("connect: the browser's time zone is not an IANA zone; ignored");
  const pkce = newPkce();
  const state = newState();
  const exp = Date.now() + CONNECT_TTL_S * 1000;
  const auth = authUrl(settings, settings.clientId, state, pkce.challenge, q);
  const sealed = sealState({ state, verifier: pkce.verifier, exp, ...(zone ? { zone } : {}) }, settings.sessionSecret);
  reply.setCookie(CONNECT_COOKIE, sealed, { ...cookie, maxAge: CONNECT_TTL_S });
  reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer");
  return reply.redirect(auth.toString(), 302);
}

/** What is wrong with the /connect link's optional hints, if anything. */
function linkProblem(q: ConnectQuery): string | undefined {
  if (q.email !== undefined && (typeof q.email !== "string" || !EMAIL.test(q.email))) {
    return "The email address in the link is not valid.";
  }
  if (q.provider !== undefined && (typeof q.provider !== "string" || !PROVIDERS.has(q.provider))) {
    return "Unknown provider in the link.";
  }
  return undefined;
}

function authUrl(settings: ConnectSettings, clientId: string, state: string, challenge: string, q: ConnectQuery): URL {
  const auth = new URL("/v3/connect/auth", settings.apiUri);
  auth.searchParams.set("client_id", clientId);
  auth.searchParams.set("redirect_uri", settings.redirectUri);
  auth.searchParams.set("response_type", "code");
  auth.searchParams.set("access_type", "online");
  auth.searchParams.set("state", state);
  auth.searchParams.set("code_challenge", challenge);
  auth.searchParams.set("code_challenge_method", "S256");
  if (q.email) auth.searchParams.set("login_hint", q.email);
  if (q.provider) auth.searchParams.set("provider", q.provider);
  // Scopes are the provider's own names, so they can be asked for only when the link names
  // it; otherwise the Nylas connector's scopes apply (the README lists what to set there).
  const scopes = q.provider ? scopesFor(q.provider, REQUESTED_ACCESS) : undefined;
  if (scopes) auth.searchParams.set("scope", scopes.join(" "));
  return auth;
}

/** Why the account was not connected: the callback's answer is a page with this status and text. */
class Refusal {
  constructor(
    readonly status: number,
    readonly why: string,
  ) {}
}

interface Connected {
  grant: {
    id: string;
    email: string;
    provider: string;
    timeZone: string;
    timeZoneSource: ZoneSource;
    sendHour: number;
  };
  existed: boolean;
  revalidated: boolean;
  /** The day whose reminders were queued at once, if any. */
  queued?: string;
}

/**
 * GET /connect/callback: check the state, exchange the code, store the grant, render the
 * outcome. Each step either hands on its result or refuses with a {@link Refusal}.
 */
async function finishSignIn(
  deps: ConnectDeps,
  cookie: CookieOptions,
  req: FastifyRequest<{ Querystring: CallbackQuery }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { settings } = deps;
  if (!settings.clientId) return notConfigured(reply);
  const q = req.query ?? {};
  const one = (k: string): string | undefined => (typeof q[k] === "string" ? (q[k] as string) : undefined);
  // The cookie is single use: whatever happens next, it is gone.
  const opened = openState(req.cookies[CONNECT_COOKIE], settings.sessionSecret);
  reply.clearCookie(CONNECT_COOKIE, cookie);

  const connected = await connectGrant(deps, settings.clientId, one, opened);
  if (connected instanceof Refusal) {
    return html(reply, connected.status, errorPage("The account was not connected", connected.why));
  }
  return html(reply, 200, connectedPage(connected));
}

async function connectGrant(
  deps: ConnectDeps,
  clientId: string,
  one: (k: string) => string | undefined,
  opened: Opened,
): Promise<Connected | Refusal> {
  const verifier = await checkState(deps, one("state"), opened);
  if (verifier instanceof Refusal) return verifier;
  const code = authorizationCode(deps.log, one);
  if (code instanceof Refusal) return code;
  const exchanged = await exchange(deps, clientId, code, verifier);
  if (exchanged instanceof Refusal) return exchanged;
  return storeGrant(deps, exchanged, opened.ok ? opened.value.zone : undefined);
}

/**
 * The answer's state must be the one sealed in this browser's cookie, and is used once only.
 * Gives the PKCE verifier that goes with it.
 */
async function checkState(deps: ConnectDeps, state: string | undefined, opened: Opened): Promise<string | Refusal> {
  const { log } = deps;
  if (!state) {
    return new Refusal(400, "The sign-in answer has no state parameter, so it cannot be matched to this browser.");
  }
  if (!opened.ok) {
    const why =
      opened.problem === "expired"
        ? "The sign-in took too long (more than 10 minutes)."
        : opened.problem === "missing"
          ? "This browser did not start this sign-in (no sign-in cookie; cookies may be blocked)."
          : "The sign-in cookie is not valid.";
    return new Refusal(400, why);
  }
  if (!sameString(state, opened.value.state)) {
    return new Refusal(400, "The state parameter does not match the sign-in this browser started.");
  }
  // Used before anything else happens, so a replayed callback never reaches the token endpoint.
  let first: boolean;
  try {
    first = await claimState(deps.redis, deps.prefix, opened.value.state, opened.value.exp - Date.now());
  } catch (err) {
    log.warn({ err }, "connect: could not record the sign-in state in Redis");
    return new Refusal(503, "The sign-in could not be checked just now; please start again in a moment.");
  }
  if (!first) {
    log.warn("connect: a sign-in state came back a second time (replayed callback); refused");
    return new Refusal(400, "This sign-in was already used.");
  }
  return opened.value.verifier;
}

/** The code from an answer whose state checked out, unless the provider answered with an error. */
function authorizationCode(log: Logger, one: (k: string) => string | undefined): string | Refusal {
  const error = one("error");
  if (error !== undefined) {
    const description = one("error_description");
    log.info({ error: error.slice(0, 100) }, "connect: provider returned an error");
    // The state proved the answer is ours; the text is still the provider's: escaped by errorPage.
    const detail = description ? ` — ${description.slice(0, 500)}` : "";
    return new Refusal(400, `The sign-in ended with an error: ${error.slice(0, 200)}${detail}`);
  }
  const code = one("code");
  if (!code || code.length > 4096) return new Refusal(400, "The sign-in answer has no authorization code.");
  return code;
}

async function exchange(
  deps: ConnectDeps,
  clientId: string,
  code: string,
  codeVerifier: string,
): Promise<ExchangedGrant | Refusal> {
  const { settings } = deps;
  try {
    return await exchangeCode(
      {
        apiUri: settings.apiUri,
        clientId,
        apiKey: settings.apiKey,
        code,
        redirectUri: settings.redirectUri,
        codeVerifier,
      },
      deps.fetch,
    );
  } catch (err) {
    const message = err instanceof ExchangeError ? err.message : "unexpected error";
    deps.log.warn({ status: (err as ExchangeError).status }, `connect: code exchange failed: ${message}`);
    return new Refusal(502, `Nylas did not accept the sign-in: ${message}`);
  }
}

/** The grant becomes valid and stored (with the browser's zone among its sources), and its missed day, if any, is queued. */
async function storeGrant(
  deps: ConnectDeps,
  exchanged: ExchangedGrant,
  browserZone: string | undefined,
): Promise<Connected | Refusal> {
  const { db, log, settings } = deps;
  const existed = await db.grant.findUnique({ where: { id: exchanged.grantId }, select: { status: true } });
  const { revalidated, undone } = await grantAuthorised(
    { ...deps, settings: { defaultTimeZone: settings.defaultTimeZone, defaultSendHour: settings.defaultSendHour } },
    { id: exchanged.grantId, email: exchanged.email, provider: exchanged.provider },
    {
      reason: "re-authenticated through /connect",
      source: "connect",
      now: deps.now?.() ?? clockNow(),
      ...(browserZone !== undefined ? { browserZone } : {}),
    },
  );
  const grant = await db.grant.findUnique({ where: { id: exchanged.grantId } });
  if (!grant) {
    log.error({ grantId: exchanged.grantId }, "connect: the grant could not be stored");
    return new Refusal(500, "The account was authorised but could not be saved; please try again.");
  }
  // The next scheduler tick queues it anyway.
  if ("error" in undone)
    log.warn({ grantId: grant.id, err: undone.error }, "connect: could not queue the grant's undone day");
  const queued = undone.enqueued ? undone.day : undefined;
  log.info(
    {
      grantId: grant.id,
      provider: grant.provider,
      created: !existed,
      revalidated,
      zone: grant.timeZone,
      zoneSource: grant.timeZoneSource,
    },
    "connect: grant connected",
  );
  return { grant, existed: existed !== null, revalidated, queued };
}

function connectedPage({ grant, existed, revalidated, queued }: Connected): string {
  const hour = `${String(grant.sendHour).padStart(2, "0")}:00`;
  return page(
    existed ? "Account reconnected" : "Account connected",
    [
      `<p id="connected">Connected <strong id="email">${esc(grant.email)}</strong> (${esc(grant.provider)}).</p>`,
      `<p>Reminders for each next day's meetings go out at <strong>${esc(hour)}</strong> in ` +
        `<strong id="zone">${esc(grant.timeZone)}</strong> ` +
        `(<span id="zone-source" data-source="${esc(grant.timeZoneSource)}">` +
        `${esc(describeZoneSource(grant.timeZoneSource))}</span>).</p>`,
      existed && revalidated ? "<p>Your account was marked as needing re-authentication; it is active again.</p>" : "",
      queued ? `<p>Reminders for ${esc(queued)} are on their way.</p>` : "",
      `<p><small>Grant <code id="grant-id">${esc(grant.id)}</code></small></p>`,
    ].join("\n"),
  );
}
