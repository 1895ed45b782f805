import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullScopes, startSandbox, type Provider, type Sandbox } from "../src/index.js";

let sb: Sandbox;
const G = "https://www.googleapis.com/auth/";
const REDIRECT = "http://127.0.0.1:9/oauth/callback";

interface Answer {
  status: number;
  body: { data?: unknown; error?: { type: string; message: string } };
}

async function api(path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${sb.url}/v3${path}`, {
    ...init,
    headers: { authorization: `Bearer ${sb.apiKey}`, "content-type": "application/json", ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

async function control(method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${sb.url}/_sandbox${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Answer["body"] };
}

let n = 0;
function grant(provider: Provider, scope?: string[]): string {
  return sb.addGrant({ email: `s${n++}@scopes.test`, provider, timezone: "UTC", ...(scope ? { scope } : {}) }).id;
}

/** Status of each route the worker uses, for a grant. */
async function statuses(id: string): Promise<Record<string, number>> {
  const send = api(`/grants/${id}/messages/send`, {
    method: "POST",
    body: JSON.stringify({ to: [{ email: "x@y.test" }], subject: "s", body: "b" }),
  });
  const [calendars, calendar, events, messages, folders, sent] = await Promise.all([
    api(`/grants/${id}/calendars`),
    api(`/grants/${id}/calendars/primary`),
    api(`/grants/${id}/events?calendar_id=primary`),
    api(`/grants/${id}/messages`),
    api(`/grants/${id}/folders`),
    send,
  ]);
  return {
    calendars: calendars.status,
    calendar: calendar.status,
    events: events.status,
    messages: messages.status,
    folders: folders.status,
    send: sent.status,
  };
}

beforeAll(async () => {
  sb = await startSandbox({ seed: { grants: 12, seed: 3 }, limits: { sendsPerSecond: 0 } });
});
afterAll(async () => {
  await sb.close();
});

describe("insufficient_scopes", () => {
  it("answers 403 with the spec's body when a Google grant lacks the send scope", async () => {
    const id = grant("google", [`${G}calendar.readonly`, `${G}gmail.readonly`]);
    const a = await api(`/grants/${id}/messages/send`, {
      method: "POST",
      body: JSON.stringify({ to: [{ email: "x@y.test" }], subject: "s", body: "b" }),
    });
    expect(a.status).toBe(403);
    expect(a.body.error).toEqual({
      type: "insufficient_scopes",
      message: "missing provider scopes required to send email",
    });
    expect(sb.sentMessages({ grantId: id })).toEqual([]);
    const logged = sb.requestLog({ grantId: id, route: "messages.send" });
    expect(logged.map((e) => [e.status, e.note])).toEqual([[403, "insufficient_scopes"]]);
  });

  it("checks each route against the scopes the spec lists for it, Google", async () => {
    expect(await statuses(grant("google", [`${G}calendar.readonly`]))).toEqual({
      calendars: 200,
      calendar: 200,
      events: 200, // Google's calendar.readonly reads events (the sandbox widens the spec's table)
      messages: 403,
      folders: 403,
      send: 403,
    });
    expect(await statuses(grant("google", [`${G}calendar.events.readonly`, `${G}gmail.send`]))).toEqual({
      calendars: 403,
      calendar: 403,
      events: 200,
      messages: 403,
      folders: 403,
      send: 200,
    });
    expect(await statuses(grant("google", [`${G}gmail.modify`]))).toEqual({
      calendars: 403,
      calendar: 403,
      events: 403,
      messages: 200,
      folders: 200,
      send: 200,
    });
    const e = await api(`/grants/${grant("google", [])}/events?calendar_id=primary`);
    expect(e.body.error).toEqual({
      type: "insufficient_scopes",
      message: "missing provider scopes required to read events",
    });
  });

  it("checks Microsoft scopes, short or with Graph's prefix, case-insensitively", async () => {
    expect(await statuses(grant("microsoft", ["Calendars.Read", "Mail.Send"]))).toEqual({
      calendars: 200,
      calendar: 200,
      events: 200,
      messages: 403,
      folders: 403,
      send: 200,
    });
    expect(await statuses(grant("microsoft", ["https://graph.microsoft.com/mail.readwrite"]))).toEqual({
      calendars: 403,
      calendar: 403,
      events: 403,
      messages: 200,
      folders: 200,
      send: 200,
    });
  });

  it("never answers 403 for providers without OAuth scopes (IMAP)", async () => {
    const id = grant("imap", []);
    const s = await statuses(id);
    expect(s.messages).toBe(200);
    expect(s.folders).toBe(200);
    expect(s.send).toBe(200);
    expect(s.events).toBe(400); // calendars are not supported for IMAP, which is not a scope matter
    expect(sb.grant(id).scope).toEqual([]);
  });

  it("answers 401 before 403: an invalid grant is reported as such whatever its scopes", async () => {
    const id = grant("google", []);
    sb.invalidateGrant(id);
    expect((await api(`/grants/${id}/messages`)).status).toBe(401);
  });

  it("gives seeded and default grants the full scope set", async () => {
    const seeded = sb.grantIds().slice(0, 12); // the seed's, before any test added one
    for (const id of seeded) {
      const g = sb.grant(id);
      expect(g.scope, g.provider).toEqual(fullScopes(g.provider));
    }
    const valid = seeded.filter((id) => ["google", "microsoft"].includes(sb.grant(id).provider));
    for (const id of valid.filter((id) => sb.grant(id).grant_status === "valid").slice(0, 4)) {
      const s = await statuses(id);
      expect(s, sb.grant(id).provider).toEqual({
        calendars: 200,
        calendar: 200,
        events: 200,
        messages: 200,
        folders: 200,
        send: 200,
      });
    }
    expect(sb.grant(grant("google")).scope).toEqual(fullScopes("google"));
  });

  it("creates grants with a scope list and changes a grant's scopes through the control API", async () => {
    const made = await control("POST", "/grants", {
      email: "ctl@scopes.test",
      provider: "google",
      scope: [`${G}gmail.send`],
    });
    expect(made.status).toBe(200);
    const id = (made.body as unknown as { id: string }).id;
    expect((await api(`/grants/${id}/messages`)).status).toBe(403);
    const changed = await control("POST", `/grants/${id}/scope`, { scope: [`${G}gmail.readonly`] });
    expect(changed.status).toBe(200);
    expect((changed.body as unknown as { scope: string[] }).scope).toEqual([`${G}gmail.readonly`]);
    expect((await api(`/grants/${id}/messages`)).status).toBe(200);
    expect(((await api(`/grants/${id}`)).body.data as { scope: string[] }).scope).toEqual([`${G}gmail.readonly`]);
    for (const bad of [undefined, "gmail.send", [""], ["two words"], [1]])
      expect((await control("POST", `/grants/${id}/scope`, { scope: bad })).status, JSON.stringify(bad)).toBe(400);
    expect((await control("POST", "/grants", { email: "bad@scopes.test", scope: "x" })).status).toBe(400);
    expect(sb.setGrantScope(id, []).scope).toEqual([]);
  });
});

describe("hosted OAuth scopes", () => {
  /** Signs `email` in through the consent page; returns the grant id the token answer names. */
  async function signIn(
    email: string,
    provider: Provider,
    scope?: string,
  ): Promise<{ grantId: string; scope: string }> {
    const u = new URL(`${sb.url}/v3/connect/auth`);
    u.search = new URLSearchParams({
      client_id: sb.clientId,
      redirect_uri: REDIRECT,
      response_type: "code",
      provider,
      ...(scope !== undefined ? { scope } : {}),
    }).toString();
    const html = await (await fetch(u)).text();
    const authId = /name="auth_id" value="([^"]+)"/.exec(html)![1]!;
    const form = new URLSearchParams({ auth_id: authId, decision: "allow", email, provider });
    const back = await fetch(`${sb.url}/v3/connect/auth/consent`, { method: "POST", body: form, redirect: "manual" });
    const code = new URL(back.headers.get("location")!).searchParams.get("code")!;
    const tok = await fetch(`${sb.url}/v3/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        client_id: sb.clientId,
        client_secret: sb.apiKey,
        grant_type: "authorization_code",
        code,
        redirect_uri: REDIRECT,
      }),
    });
    expect(tok.status).toBe(200);
    const body = (await tok.json()) as { grant_id: string; scope: string };
    return { grantId: body.grant_id, scope: body.scope };
  }

  it("gives the grant the scopes asked for (space separated), or the full set when none", async () => {
    const asked = await signIn("oauth-a@scopes.test", "google", `${G}calendar.readonly ${G}gmail.send`);
    expect(sb.grant(asked.grantId).scope).toEqual([`${G}calendar.readonly`, `${G}gmail.send`]);
    expect(asked.scope).toBe(`${G}calendar.readonly ${G}gmail.send`);
    expect((await api(`/grants/${asked.grantId}/messages`)).status).toBe(403);
    const none = await signIn("oauth-b@scopes.test", "microsoft");
    expect(sb.grant(none.grantId).scope).toEqual(fullScopes("microsoft"));
    // Signing in again with other scopes gives the same grant those scopes.
    const again = await signIn("oauth-a@scopes.test", "google", `${G}gmail.readonly`);
    expect(again.grantId).toBe(asked.grantId);
    expect(sb.grant(asked.grantId).scope).toEqual([`${G}gmail.readonly`]);
    expect((await api(`/grants/${asked.grantId}/messages`)).status).toBe(200);
  });
});
