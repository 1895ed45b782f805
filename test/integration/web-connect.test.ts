import { createHash } from "node:crypto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONNECT_COOKIE, openState, pkceChallenge, sealState } from "../../src/web/connect/state.js";
import { syncGrants } from "../../src/grants/sync.js";
import { deleteGrants, uniqueId } from "../support/db.js";
import { NylasApi } from "../../src/nylas/client.js";
import { consentWithoutBrowser, SESSION_SECRET, startWebHarness, type WebHarness } from "../e2e/support.js";

/** The cookie the response set, as a request Cookie header value. */
function cookieOf(res: LightMyRequestResponse): string {
  const c = res.cookies.find((x) => x.name === CONNECT_COOKIE);
  if (!c) throw new Error("no connect cookie set");
  return `${c.name}=${c.value}`;
}

describe("hosted-OAuth connect against the sandbox", () => {
  let h: WebHarness;
  let app: FastifyInstance;
  const grants: string[] = [];

  /** /connect/start, where the connect page's link (and script) lead, with the browser's zone. */
  const start = async (email?: string, tz?: string) => {
    const q = new URLSearchParams();
    if (email) q.set("email", email);
    if (tz !== undefined) q.set("tz", tz);
    const res = await app.inject(`/connect/start${q.size > 0 ? `?${q.toString()}` : ""}`);
    expect(res.statusCode).toBe(302);
    return { res, auth: new URL(res.headers.location as string), cookie: cookieOf(res) };
  };
  /** Signs in at the sandbox and comes back: the callback's answer. */
  const connect = async (email: string, tz?: string) => {
    const { auth, cookie } = await start(email, tz);
    const back = await consentWithoutBrowser(auth.toString(), email);
    return callback(back.searchParams.toString(), cookie);
  };
  const callback = (query: string, cookie?: string) =>
    app.inject({ url: `/connect/callback?${query}`, headers: cookie ? { cookie } : {} });

  beforeAll(async () => {
    h = await startWebHarness({ sandbox: { clientId: "sandbox-client-id" } });
    app = await h.server();
  });
  afterAll(async () => {
    await deleteGrants(h.db, grants);
    await h.close();
  });

  it("redirects to /v3/connect/auth with state and a PKCE S256 challenge bound to a signed cookie", async () => {
    const { res, auth } = await start("ada@example.com");
    expect(auth.origin + auth.pathname).toBe(`${h.sandbox.url}/v3/connect/auth`);
    const q = auth.searchParams;
    expect(q.get("client_id")).toBe("sandbox-client-id");
    expect(q.get("redirect_uri")).toBe("http://localhost:3000/connect/callback");
    expect(q.get("response_type")).toBe("code");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get("state")!.length).toBeGreaterThanOrEqual(32);
    expect(q.get("login_hint")).toBe("ada@example.com");
    const setCookie = String(res.headers["set-cookie"]);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).toMatch(/Path=\/connect/);
    expect(setCookie).toMatch(/Max-Age=600/);
    // The cookie's verifier is the one whose S256 challenge went to Nylas; nothing else leaks.
    expect(String(res.headers.location)).not.toContain(h.sandbox.apiKey);
  });

  it("asks for the least-privilege scopes when the link names a provider that has scopes", async () => {
    const scope = async (provider: string) => {
      const res = await app.inject(`/connect/start?provider=${provider}`);
      expect(res.statusCode).toBe(302);
      return new URL(res.headers.location as string).searchParams.get("scope");
    };
    expect((await scope("microsoft"))?.split(" ")).toEqual([
      "offline_access",
      "User.Read",
      "Calendars.Read",
      "Mail.Send",
      "Mail.Read",
    ]);
    expect(await scope("google")).toContain("https://www.googleapis.com/auth/gmail.send");
    expect(await scope("google")).not.toMatch(/auth\/calendar( |$)|mail\.google\.com/);
    // Credentials providers and an unnamed provider: the connector's own settings apply.
    expect(await scope("icloud")).toBeNull();
    expect((await start()).auth.searchParams.get("scope")).toBeNull();
  });

  it("refuses a bad email or provider in the link", async () => {
    for (const path of ["/connect", "/connect/start"]) {
      expect((await app.inject(`${path}?email=%3Cscript%3E`)).statusCode).toBe(400);
      expect((await app.inject(`${path}?provider=myspace`)).statusCode).toBe(400);
    }
  });

  it("/connect is a page whose one script, allowed by its hash alone, reads the browser's zone; its link works without", async () => {
    const res = await app.inject("/connect?email=ada%40example.com&provider=microsoft");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    const script = /<script>([\s\S]*?)<\/script>/.exec(res.body)?.[1];
    expect(script).toContain("resolvedOptions().timeZone");
    const hash = createHash("sha256").update(script!).digest("base64");
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/unsafe-inline'[^;]*;[^;]*script|script-src[^;]*unsafe/);
    expect(res.body.match(/<script/g)).toHaveLength(1);
    // The link (what a browser without JavaScript follows) carries the hints, and no zone.
    const href = /id="continue" href="([^"]+)"/.exec(res.body)?.[1]?.replace(/&amp;/g, "&");
    expect(href).toBe("/connect/start?email=ada%40example.com&provider=microsoft");
    expect((await app.inject(href!)).statusCode).toBe(302);
  });

  it("stores the browser's zone, carried through the sealed state, when the calendar has none", async () => {
    const email = `${uniqueId("tz")}@example.com`.toLowerCase();
    // A Microsoft account: its calendar reports no zone (Nylas gives one for Google only).
    grants.push(h.sandbox.addGrant({ email, provider: "microsoft", timezone: null }).id);
    const { cookie } = await start(email, "Asia/Tokyo");
    const sealed = decodeURIComponent(cookie.slice(CONNECT_COOKIE.length + 1));
    expect(openState(sealed, SESSION_SECRET)).toMatchObject({ ok: true, value: { zone: "Asia/Tokyo" } });
    expect(cookie).not.toContain("Tokyo");

    const res = await connect(email, "asia/tokyo");
    expect(res.statusCode).toBe(200);
    expect(await h.db.grant.findFirstOrThrow({ where: { email } })).toMatchObject({
      provider: "microsoft",
      timeZone: "Asia/Tokyo",
      timeZoneSource: "browser",
    });
    expect(res.body).toContain('<strong id="zone">Asia/Tokyo</strong>');
    expect(res.body).toMatch(/id="zone-source" data-source="browser">from your browser</);
  });

  it("ignores a zone that is not an IANA zone, and a browser zone never beats the calendar's", async () => {
    const email = `${uniqueId("badtz")}@example.com`.toLowerCase();
    grants.push(h.sandbox.addGrant({ email, provider: "microsoft", timezone: null }).id);
    for (const tz of ["+09:00", "Mars/Olympus_Mons", "<b>x</b>"]) {
      const { cookie } = await start(email, tz);
      const opened = openState(decodeURIComponent(cookie.slice(CONNECT_COOKIE.length + 1)), SESSION_SECRET);
      expect(opened.ok && opened.value.zone).toBeUndefined();
    }
    expect((await connect(email, "Mars/Olympus_Mons")).statusCode).toBe(200);
    expect(await h.db.grant.findFirstOrThrow({ where: { email } })).toMatchObject({
      timeZone: "UTC",
      timeZoneSource: "default",
    });

    const google = `${uniqueId("cal")}@example.com`.toLowerCase();
    grants.push(h.sandbox.addGrant({ email: google, provider: "google", timezone: "Europe/Oslo" }).id);
    const res = await connect(google, "Asia/Tokyo");
    expect(await h.db.grant.findFirstOrThrow({ where: { email: google } })).toMatchObject({
      timeZone: "Europe/Oslo",
      timeZoneSource: "calendar",
    });
    expect(res.body).toMatch(/data-source="calendar">from your calendar</);
  });

  it("a browser zone is not replaced by an inference from events at the next sync", async () => {
    const email = `${uniqueId("keep")}@example.com`.toLowerCase();
    const id = h.sandbox.addGrant({ email, provider: "microsoft", timezone: null }).id;
    grants.push(id);
    await connect(email, "Asia/Tokyo");
    const now = Math.floor(Date.now() / 1000);
    for (const k of [1, 2, 3])
      h.sandbox.addEvent(id, {
        title: `planned in Paris ${k}`,
        when: {
          object: "timespan",
          start_time: now + k * 86_400,
          end_time: now + k * 86_400 + 1800,
          start_timezone: "Europe/Paris",
          end_timezone: "Europe/Paris",
        },
        participants: [{ email: "guest@example.com", status: "yes" }],
      });
    const settings = { defaultTimeZone: "UTC", defaultSendHour: 18 };
    await syncGrants(h.db, new NylasApi({ apiKey: h.sandbox.apiKey, apiUri: h.sandbox.url }), h.log, settings);
    expect(await h.db.grant.findUniqueOrThrow({ where: { id } })).toMatchObject({
      timeZone: "Asia/Tokyo",
      timeZoneSource: "browser",
    });
  });

  it("connects a new account end to end: code exchange with PKCE, grant stored with its zone", async () => {
    const email = `${uniqueId("new")}@example.com`.toLowerCase();
    const { auth, cookie } = await start(email);
    const back = await consentWithoutBrowser(auth.toString(), email);
    expect(back.pathname).toBe("/connect/callback");
    const res = await callback(back.searchParams.toString(), cookie);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("Account connected");
    const grant = await h.db.grant.findFirstOrThrow({ where: { email } });
    grants.push(grant.id);
    expect(grant).toMatchObject({
      provider: "google",
      status: "valid",
      timeZone: "UTC",
      timeZoneSource: "calendar",
      sendHour: 18,
    });
    expect(res.body).toContain(grant.id);
    // The cookie is single use.
    expect(String(res.headers["set-cookie"])).toMatch(new RegExp(`${CONNECT_COOKIE}=;`));
    // The sandbox checked the PKCE verifier against the S256 challenge.
    const token = h.sandbox.requestLog().filter((e) => e.route === "connect.token");
    expect(token.at(-1)?.status).toBe(200);
  });

  it("re-authenticating the same email keeps the grant and makes it valid again", async () => {
    const email = `${uniqueId("re")}@example.com`.toLowerCase();
    const first = await start(email);
    await callback((await consentWithoutBrowser(first.auth.toString(), email)).searchParams.toString(), first.cookie);
    const grant = await h.db.grant.findFirstOrThrow({ where: { email } });
    grants.push(grant.id);
    await h.db.grant.update({
      where: { id: grant.id },
      data: { status: "needs_reauth", statusReason: "401 from Nylas" },
    });
    h.sandbox.invalidateGrant(grant.id);

    const again = await start(email);
    const res = await callback(
      (await consentWithoutBrowser(again.auth.toString(), email)).searchParams.toString(),
      again.cookie,
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("Account reconnected");
    expect(await h.db.grant.count({ where: { email } })).toBe(1);
    expect(await h.db.grant.findUniqueOrThrow({ where: { id: grant.id } })).toMatchObject({
      status: "valid",
      statusReason: expect.stringMatching(/re-authenticated/),
    });
  });

  it("shows the provider's error, escaped", async () => {
    const { auth, cookie } = await start();
    const state = auth.searchParams.get("state")!;
    const res = await callback(
      `error=access_denied&error_description=${encodeURIComponent('<script>alert("x")</script>')}&state=${state}`,
      cookie,
    );
    expect(res.statusCode).toBe(400);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    expect(res.body).toContain("access_denied");
    expect(res.body).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(res.body).not.toContain("<script>");
  });

  it("shows the sandbox consent page's deny as a readable error", async () => {
    const { auth, cookie } = await start();
    const back = await consentWithoutBrowser(auth.toString(), "x@example.com", "deny");
    const res = await callback(back.searchParams.toString(), cookie);
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/access_denied/);
  });

  it.each([
    ["a wrong state", (s: string) => `code=abc&state=${s}x`, true, /does not match/],
    ["a missing state", () => "code=abc", true, /no state/],
    ["no cookie (another browser)", (s: string) => `code=abc&state=${s}`, false, /did not start this sign-in/],
    ["no code", (s: string) => `state=${s}`, true, /no authorization code/],
  ])("refuses %s with a readable page", async (_what, query, withCookie, message) => {
    const { auth, cookie } = await start();
    const res = await callback(query(auth.searchParams.get("state")!), withCookie ? cookie : undefined);
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(message);
    expect(res.body).toContain('href="/connect"');
  });

  it("refuses a tampered or expired cookie", async () => {
    const { auth, cookie } = await start();
    const state = auth.searchParams.get("state")!;
    for (const at of [cookie.length - 1, cookie.indexOf("=") + 20, cookie.length - 30]) {
      const tampered = cookie.slice(0, at) + (cookie[at] === "A" ? "B" : "A") + cookie.slice(at + 1);
      expect((await callback(`code=abc&state=${state}`, tampered)).body).toMatch(/cookie is not valid/);
    }
    const forged = `${CONNECT_COOKIE}=${sealState({ state, verifier: "v".repeat(64), exp: Date.now() + 60_000 }, "another-secret-0123456789")}`;
    expect((await callback(`code=abc&state=${state}`, forged)).body).toMatch(/cookie is not valid/);
    const expired = `${CONNECT_COOKIE}=${sealState({ state, verifier: "v".repeat(64), exp: Date.now() - 1 }, SESSION_SECRET)}`;
    const res = await callback(`code=abc&state=${state}`, expired);
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/took too long/);
  });

  it("shows a failed code exchange (a used or bogus code) without leaking the API key", async () => {
    const email = `${uniqueId("x")}@example.com`.toLowerCase();
    const { auth, cookie } = await start(email);
    const back = await consentWithoutBrowser(auth.toString(), email);
    back.searchParams.set("code", "not-a-real-code");
    const res = await callback(back.searchParams.toString(), cookie);
    expect(res.statusCode).toBe(502);
    expect(res.body).toMatch(/invalid_grant/);
    expect(res.body).not.toContain(h.sandbox.apiKey);
    expect(await h.db.grant.count({ where: { email } })).toBe(0);
  });

  it("a replayed callback is refused before the token endpoint (five at once: one exchange)", async () => {
    const email = `${uniqueId("replay")}@example.com`.toLowerCase();
    const { auth, cookie } = await start(email);
    const back = await consentWithoutBrowser(auth.toString(), email);
    const exchanges = () => h.sandbox.requestLog({ route: "connect.token" }).length;
    const before = exchanges();
    const answers = await Promise.all(Array.from({ length: 5 }, () => callback(back.searchParams.toString(), cookie)));
    const statuses = answers.map((a) => a.statusCode).sort();
    expect(statuses).toEqual([200, 400, 400, 400, 400]);
    for (const a of answers.filter((x) => x.statusCode === 400)) {
      expect(a.body).toMatch(/This sign-in was already used/);
    }
    expect(exchanges()).toBe(before + 1);
    grants.push((await h.db.grant.findFirstOrThrow({ where: { email } })).id);
    // Later, too: the state stays used for as long as the cookie could be presented.
    expect((await callback(back.searchParams.toString(), cookie)).body).toMatch(/already used/);
    expect(exchanges()).toBe(before + 1);
  });

  it("the cookie does not carry the PKCE verifier (or anything else) in readable form", async () => {
    // Catch the verifier on its way to the token endpoint.
    const verifiers: string[] = [];
    const watching: typeof fetch = async (input, init) => {
      const body = JSON.parse(String(init?.body)) as { code_verifier?: string };
      if (body.code_verifier) verifiers.push(body.code_verifier);
      return fetch(input, init);
    };
    const s = await h.server({ fetch: watching });
    const email = `${uniqueId("sealed")}@example.com`.toLowerCase();
    const res = await s.inject(`/connect/start?email=${encodeURIComponent(email)}`);
    const auth = new URL(res.headers.location as string);
    const cookie = cookieOf(res);
    const back = await consentWithoutBrowser(auth.toString(), email);
    const done = await s.inject({ url: `/connect/callback?${back.searchParams.toString()}`, headers: { cookie } });
    expect(done.statusCode).toBe(200);
    grants.push((await h.db.grant.findFirstOrThrow({ where: { email } })).id);
    const verifier = verifiers[0]!;
    expect(pkceChallenge(verifier)).toBe(auth.searchParams.get("code_challenge"));

    const value = decodeURIComponent(cookie.slice(CONNECT_COOKIE.length + 1));
    const bytes = Buffer.from(value, "base64url");
    const readings = [value, bytes.toString("utf8"), bytes.toString("latin1")];
    for (const r of readings) {
      expect(r).not.toContain(verifier);
      expect(r).not.toContain(Buffer.from(verifier, "base64url").toString("latin1"));
      expect(r).not.toContain(auth.searchParams.get("state"));
    }
    // It is in there, sealed: only SESSION_SECRET opens it.
    expect(openState(value, SESSION_SECRET)).toMatchObject({ ok: true, value: { verifier } });
    expect(openState(value, "another-secret-0123456789")).toEqual({ ok: false, problem: "tampered" });
  });

  it.each([
    ["a wrong state", (s: string) => `${s}x`, true],
    ["no state", () => undefined, true],
    ["no cookie", (s: string) => s, false],
  ])("an error answer with %s shows none of the query's text", async (_what, state, withCookie) => {
    const { auth, cookie } = await start();
    const attacker = {
      error: "account_locked_call_support",
      error_description: "Call +1 555 0100 and read us your code <b>now</b>",
    };
    const q = new URLSearchParams(attacker);
    const st = state(auth.searchParams.get("state")!);
    if (st !== undefined) q.set("state", st);
    const res = await callback(q.toString(), withCookie ? cookie : undefined);
    expect(res.statusCode).toBe(400);
    for (const text of [attacker.error, "555 0100", "now", "&lt;b&gt;"]) expect(res.body).not.toContain(text);
  });

  it("an error answer uses up its state: the same answer again is refused", async () => {
    const { auth, cookie } = await start();
    const q = `error=access_denied&state=${auth.searchParams.get("state")!}`;
    expect((await callback(q, cookie)).body).toContain("access_denied");
    const again = await callback(q, cookie);
    expect(again.body).toMatch(/already used/);
    expect(again.body).not.toContain("access_denied");
  });

  it("the verifier in the cookie is what the challenge was made from", () => {
    expect(pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    ); // RFC 7636 appendix B
  });

  it("answers 503 when connecting is not configured", async () => {
    const s = await h.server({
      connect: {
        clientId: undefined,
        apiKey: "k",
        apiUri: h.sandbox.url,
        sessionSecret: SESSION_SECRET,
        redirectUri: "http://localhost/connect/callback",
        defaultTimeZone: "UTC",
        defaultSendHour: 18,
      },
    });
    for (const path of ["/connect", "/connect/start"]) {
      const res = await s.inject(path);
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain("NYLAS_CLIENT_ID");
    }
  });
});
