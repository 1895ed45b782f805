import { startSandbox, type Sandbox } from "nylas-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { createLogger } from "../../src/log/logger.js";
import { addDays, localDate, localDayWindow } from "../../src/time/window.js";
import { startWebApp, type WebApp } from "../../src/web/app.js";
import { BOARD_PASSWORD, BOARD_USER, testConfig, uniquePrefix } from "../e2e/support.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";
import { LogSink } from "../support/pipeline.js";

const TOKEN = "admin-token-for-tests-0123456789abcdef";
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const BEARER = { authorization: `Bearer ${TOKEN}` };
const JSON_BODY = { "content-type": "application/json" };

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe("admin API: per-user settings (real web server, Postgres)", { timeout: 60_000 }, () => {
  let sandbox: Sandbox;
  let db: Db;
  let web: WebApp;
  const sink = new LogSink();
  const grantId = uniqueId("set");
  const email = `${grantId}@Example.com`;
  const TOKYO = "Asia/Tokyo";
  const LA = "America/Los_Angeles";
  const day = addDays(localDate(LA, new Date()), 1);

  async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
    const res = await fetch(`${web.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: JSON.parse(text) } as Answer;
  }
  const patch = (id: string, body: unknown, headers: Record<string, string> = BEARER) =>
    call("PATCH", `/admin/api/grants/${id}/settings`, { ...JSON_BODY, ...headers }, JSON.stringify(body));

  beforeAll(async () => {
    sandbox = await startSandbox({});
    db = await testPrisma();
    const config = testConfig(sandbox, uniquePrefix("adm"), { ADMIN_API_TOKEN: TOKEN, DEFAULT_LOCALE: "de" });
    web = await startWebApp(config, createLogger({ level: "info" }, sink.stream), { db, port: 0, host: "127.0.0.1" });
    await db.grant.create({
      data: { id: grantId, email, provider: "google", timeZone: TOKYO, timeZoneSource: "events", sendHour: 18 },
    });
    // A day Tokyo already ran: moving the grant to Los Angeles reaches past it.
    const w = localDayWindow(TOKYO, day);
    await db.run.create({
      data: {
        grantId,
        day,
        timeZone: TOKYO,
        status: "completed",
        windowStart: new Date(w.start * 1000),
        windowEnd: new Date(w.end * 1000),
      },
    });
  });
  afterAll(async () => {
    await deleteGrants(db, [grantId]);
    await web?.close(1000);
    await sandbox?.close();
  });

  it("refuses a request without credentials or with wrong ones (401, JSON), never logging them", async () => {
    const none = await call("GET", `/admin/api/grants/${grantId}/settings`);
    expect(none.status).toBe(401);
    expect(none.body.error).toMatch(/^unauthorized/);
    expect(none.headers.get("www-authenticate")).toBe('Bearer, Basic realm="Admin API"');
    expect(none.headers.get("cache-control")).toBe("no-store");
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, basic(BOARD_USER, "wrong password")]) {
      const r = await call("GET", `/admin/api/grants/${grantId}/settings`, { authorization });
      expect(r.status, authorization).toBe(401);
    }
    expect(sink.find(/admin API login failed/)).toHaveLength(3);
    const logged = JSON.stringify(sink.lines);
    expect(logged).not.toContain(TOKEN.slice(4));
    expect(logged).not.toContain("wrong password");
  });

  it("reads the settings in effect with the token or the operators' basic auth", async () => {
    const r = await call("GET", `/admin/api/grants/${grantId}/settings`, BEARER);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      grantId,
      email,
      provider: "google",
      status: "valid",
      sendHour: 18,
      enabled: true,
      policy: "organized",
      policyDefault: true,
      timeZone: TOKYO,
      timeZoneSource: "events",
      timeZoneOverride: false,
      locale: "de",
      localeDefault: true,
      calendarId: "primary",
    });
    const b = await call("GET", `/admin/api/grants/${grantId}/settings`, {
      authorization: basic(BOARD_USER, BOARD_PASSWORD),
    });
    expect(b.status).toBe(200);
    expect(b.body).toEqual(r.body);
    expect(JSON.stringify(sink.lines)).not.toContain(TOKEN);
  });

  it("finds a grant by its address, case aside", async () => {
    const r = await call("GET", `/admin/api/grants?email=${encodeURIComponent(email.toUpperCase())}`, BEARER);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ grants: [{ id: grantId, email, provider: "google", status: "valid" }] });
    expect((await call("GET", "/admin/api/grants", BEARER)).status).toBe(400);
    // An exact match: "%" and "_" are no patterns.
    const pattern = await call("GET", `/admin/api/grants?email=${encodeURIComponent("%@%")}`, BEARER);
    expect(pattern.body).toEqual({ grants: [] });
    const underscore = email.replace(/^./, "_");
    expect((await call("GET", `/admin/api/grants?email=${encodeURIComponent(underscore)}`, BEARER)).body).toEqual({
      grants: [],
    });
  });

  it("PATCH writes every setting; the zone as the operator's override, reopening the day it reaches", async () => {
    const r = await patch(grantId, {
      sendHour: 7,
      enabled: false,
      policy: "external",
      timeZone: LA,
      locale: "fr-ca",
      calendarId: "work@example.com",
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      sendHour: 7,
      enabled: false,
      policy: "external",
      policyDefault: false,
      timeZone: LA,
      timeZoneSource: "override",
      timeZoneOverride: true,
      locale: "fr-CA",
      localeDefault: false,
      calendarId: "work@example.com",
      reopened: [day],
    });
    const row = await db.grant.findUniqueOrThrow({ where: { id: grantId } });
    expect(row).toMatchObject({
      sendHour: 7,
      enabled: false,
      policy: "external",
      locale: "fr-CA",
      calendarId: "work@example.com",
      timeZone: LA,
      timeZoneSource: "override",
    });
    const run = await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } });
    expect(run.status).toBe("reopened");
  });

  it("null puts the defaults back and clears the override (the zone stays until a sync)", async () => {
    const r = await patch(grantId, { policy: null, locale: null, timeZone: null, enabled: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      policy: "organized",
      policyDefault: true,
      locale: "de",
      localeDefault: true,
      timeZone: LA,
      timeZoneOverride: false,
      enabled: true,
      reopened: [],
    });
    const row = await db.grant.findUniqueOrThrow({ where: { id: grantId } });
    expect(row).toMatchObject({ policy: null, locale: null, enabled: true, sendHour: 7 });
    expect(row.timeZoneSource).not.toBe("override");
  });

  it("bad input is a 400 naming each problem, and changes nothing", async () => {
    const before = await db.grant.findUniqueOrThrow({ where: { id: grantId } });
    const r = await patch(grantId, { sendHour: 25, locale: "xx", colour: "blue" });
    expect(r.status).toBe(400);
    expect(r.body.problems).toEqual([
      expect.stringMatching(/^unknown setting "colour"/),
      expect.stringMatching(/^sendHour must be/),
      expect.stringMatching(/^locale must be/),
    ]);
    expect(r.body.error).toBe((r.body.problems as string[]).join("; "));
    const bad = await call("PATCH", `/admin/api/grants/${grantId}/settings`, { ...JSON_BODY, ...BEARER }, "{nope");
    expect(bad.status).toBe(400);
    expect(typeof bad.body.error).toBe("string");
    const form = await call(
      "PATCH",
      `/admin/api/grants/${grantId}/settings`,
      { "content-type": "text/plain", ...BEARER },
      '{"enabled":false}',
    );
    expect(form.status).toBe(415);
    expect(typeof form.body.error).toBe("string");
    expect(await db.grant.findUniqueOrThrow({ where: { id: grantId } })).toEqual(before);
  });

  it("an unknown grant is a 404, a malformed id a 400, an unknown route a JSON 404", async () => {
    expect((await patch(uniqueId("nobody"), { sendHour: 3 })).status).toBe(404);
    const missing = await call("GET", `/admin/api/grants/${uniqueId("nobody")}/settings`, BEARER);
    expect(missing).toMatchObject({ status: 404, body: { error: expect.stringMatching(/unknown grant/) } });
    expect((await call("GET", "/admin/api/grants/a%20b/settings", BEARER)).status).toBe(400);
    const route = await call("GET", "/admin/api/nothing", BEARER);
    expect(route).toMatchObject({ status: 404, body: { error: "no such route" } });
  });

  it("a cross-site change is refused even with the operators' credentials", async () => {
    const r = await patch(
      grantId,
      { enabled: false },
      {
        authorization: basic(BOARD_USER, BOARD_PASSWORD),
        origin: "https://evil.example",
        "sec-fetch-site": "cross-site",
      },
    );
    expect(r.status).toBe(403);
    expect((await db.grant.findUniqueOrThrow({ where: { id: grantId } })).enabled).toBe(true);
  });

  it("without any credential configured the API is off: 404", async () => {
    const off = testConfig(sandbox, uniquePrefix("adm"), {
      BULL_BOARD_USER: undefined,
      BULL_BOARD_PASSWORD: undefined,
    });
    const offWeb = await startWebApp(off, createLogger({ level: "silent" }), { db, port: 0, host: "127.0.0.1" });
    try {
      const res = await fetch(`${offWeb.url}/admin/api/grants/${grantId}/settings`, { headers: BEARER });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toMatch(/^the admin API is off/);
    } finally {
      await offWeb.close(1000);
    }
  });
});
