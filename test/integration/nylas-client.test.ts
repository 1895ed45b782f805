import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calendarAccess, pickCalendar } from "../../src/grants/calendar.js";
import { NylasApi } from "../../src/nylas/client.js";
import { classifyError } from "../../src/nylas/errors.js";
import { startSandbox, type Sandbox } from "nylas-sandbox";
import { localDate, addDays, localDayWindow } from "../../src/time/window.js";

// The worker's Nylas module on the official SDK, over real HTTP to the sandbox: every call
// it makes, and every failure it can meet, classified by the pure classifier.
describe("NylasApi against the sandbox", () => {
  let sandbox: Sandbox;
  let api: NylasApi;
  let grantId: string;
  const now = new Date();

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: { grants: 14, now } });
    api = new NylasApi({ apiKey: sandbox.apiKey, apiUri: sandbox.url, timeout: 2 });
    grantId = sandbox
      .grantIds()
      .find((id) => sandbox.grant(id).grant_status === "valid" && sandbox.grant(id).provider === "google")!;
  });
  afterAll(async () => {
    await sandbox.close();
  });

  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return classifyError(err);
    }
    throw new Error("expected a failure");
  };

  it("pages through grants by offset", async () => {
    const seen: string[] = [];
    for (let offset = 0; ; offset += 5) {
      const page = await api.grantsPage({ limit: 5, offset });
      seen.push(...page.map((g) => g.id));
      if (page.length < 5) break;
    }
    expect(seen.sort()).toEqual([...sandbox.grantIds()].sort());
    const invalid = sandbox.grantIds().find((id) => sandbox.grant(id).grant_status === "invalid")!;
    expect(await api.grant(invalid)).toMatchObject({ id: invalid, status: "invalid" });
  });

  it("reads the primary calendar's zone, or none", async () => {
    const zones = await Promise.all(
      sandbox
        .grantIds()
        // iCloud has no `primary` calendar and IMAP no calendars at all.
        .filter(
          (id) =>
            sandbox.grant(id).grant_status === "valid" && calendarAccess(sandbox.grant(id).provider) === "primary",
        )
        .map((id) => api.calendarZone(id)),
    );
    expect(zones.filter((z) => z === undefined).length).toBeGreaterThan(0);
    expect(zones.filter((z) => typeof z === "string" && z.includes("/")).length).toBeGreaterThan(0);
  });

  it("lists a grant's calendars with what picking one needs", async () => {
    const id = sandbox.addGrant({
      email: "cals@example.com",
      provider: "icloud",
      timezone: null,
      calendar_id: "home",
    }).id;
    // iCloud has no primary calendar: the user's own writable one is picked from the list.
    const icloud = await api.calendars(id);
    expect(icloud[0]).toEqual({ id: "home", isPrimary: false, isOwnedByUser: true, readOnly: false });
    expect(pickCalendar(icloud)?.id).toBe("home");
    const google = await api.calendars(grantId);
    const primary = google.find((c) => c.isPrimary);
    expect(primary).toMatchObject({ timezone: await api.calendarZone(grantId) });
    expect(pickCalendar(google)).toEqual(primary);
  });

  it("iterates a window's events across pages, taking a token before each page", async () => {
    const zone = sandbox.grantZone(grantId);
    const { start, end } = localDayWindow(zone, addDays(localDate(zone, now), 1));
    let pages = 0;
    const events = [];
    for await (const page of api.events(grantId, { calendarId: "primary", start, end, limit: 3 }, (request) => {
      pages++;
      return request();
    }))
      events.push(...page);
    const all = (await api.eventsPage(grantId, { calendarId: "primary", start, end, limit: 200 })).items;
    expect(events.map((e) => e.id)).toEqual(all.map((e) => e.id));
    expect(pages).toBe(Math.ceil(all.length / 3));
    expect(all.some((e) => e.masterEventId)).toBe(true);
  });

  it("sends as the grant and finds the message, with its headers, in the Sent folder", async () => {
    const sent = await api.send(grantId, {
      to: [{ email: "guest@example.com", name: "Guest" }],
      subject: "Hello",
      body: "<p>hi</p>",
      customHeaders: [{ name: "X-Reminder-Id", value: "m-1" }],
    });
    const page = await api.sentPage(grantId, { after: Math.floor(Date.now() / 1000) - 60 });
    const found = page.items.find((m) => m.id === sent.id)!;
    expect(found.headers).toContainEqual({ name: "X-Reminder-Id", value: "m-1" });
  });

  it("classifies a wrong API key as auth", async () => {
    const bad = new NylasApi({ apiKey: "wrong", apiUri: sandbox.url });
    expect(await failure(bad.grantsPage({ limit: 1, offset: 0 }))).toMatchObject({
      kind: "auth",
      status: 401,
      requestId: expect.any(String),
    });
  });

  it("classifies an invalid grant as auth on every data call", async () => {
    const invalid = sandbox.grantIds().find((id) => sandbox.grant(id).grant_status === "invalid")!;
    const calls = [
      () => api.calendarZone(invalid),
      () => api.eventsPage(invalid, { calendarId: "primary", start: 0, end: 10 }),
      () => api.send(invalid, { to: [{ email: "a@example.com" }], subject: "s", body: "b" }),
      () => api.sentPage(invalid, { after: 0 }),
    ];
    for (const call of calls) expect(await failure(call())).toMatchObject({ kind: "auth", status: 401 });
  });

  it("classifies both kinds of 429 with their Retry-After", async () => {
    // The sandbox counts one-second windows, and two calls on a loaded machine may fall in
    // two windows: send pairs at once until the sandbox refuses one (bounded), then judge it.
    const refusal = async (call: () => Promise<unknown>) => {
      for (let i = 0; i < 20; i++) {
        const results = await Promise.allSettled([call(), call()]);
        const refused = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (refused) return classifyError(refused.reason);
      }
      throw new Error("the sandbox never refused a call over its limit");
    };
    try {
      sandbox.setLimits({ sendsPerSecond: { google: 1 } });
      const send = () => api.send(grantId, { to: [{ email: "a@example.com" }], subject: "s", body: "b" });
      expect(await refusal(send)).toMatchObject({
        kind: "rate_limited",
        source: "provider",
        type: "rate_limit_error",
        retryAfterMs: 1000,
      });
      sandbox.setLimits({ requestsPerSecond: 1, sendsPerSecond: { google: 100 } });
      const f = await refusal(() => api.calendarZone(grantId));
      expect(f).toMatchObject({ kind: "rate_limited", source: "nylas", type: "nylas_rate_limit_exceeded" });
      // Retry-After: 1 (whole seconds, as the sandbox and Nylas send it).
      expect(f).toMatchObject({ retryAfterMs: 1000 });
    } finally {
      sandbox.setLimits({ requestsPerSecond: 200, sendsPerSecond: { google: 2 } });
    }
  });

  it("classifies 5xx, dropped connections and timeouts as transient", async () => {
    await new Promise((r) => setTimeout(r, 1100));
    for (const kind of [500, 502, 503, 504] as const) {
      sandbox.injectFault({ kind, count: 1, routeClass: "calendars" });
      expect(await failure(api.calendarZone(grantId))).toMatchObject({ kind: "transient", status: kind });
    }
    sandbox.injectFault({ kind: "drop", count: 1, routeClass: "calendars" });
    expect(await failure(api.calendarZone(grantId))).toMatchObject({ kind: "transient", code: "UND_ERR_SOCKET" });
    sandbox.setLatency({ ms: 2500 });
    expect(await failure(api.calendarZone(grantId))).toMatchObject({ kind: "transient", code: "timeout" });
    sandbox.setLatency({ ms: 0 });
  });

  it("classifies a refused request as permanent", async () => {
    await new Promise((r) => setTimeout(r, 2600));
    expect(await failure(api.send(grantId, { to: [], subject: "s", body: "b" }))).toMatchObject({
      kind: "permanent",
      status: 400,
    });
    expect(await failure(api.grant("no-such-grant"))).toMatchObject({ kind: "permanent", status: 404 });
    expect(
      await failure(api.eventsPage(grantId, { calendarId: "primary", start: 0, end: 10, limit: 201 })),
    ).toMatchObject({ kind: "permanent", status: 400 });
  });
});
