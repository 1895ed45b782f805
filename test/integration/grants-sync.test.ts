import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syncGrants } from "../../src/grants/sync.js";
import { overrideGrantZone } from "../../src/grants/zone.js";
import { INFER_WINDOW_DAYS } from "../../src/grants/zone-find.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

describe("grants sync", () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 25 } }, env: { DEFAULT_TIME_ZONE: "Europe/Paris" } });
  });
  afterAll(async () => {
    await p.close();
  });
  const settings = () => ({ defaultTimeZone: p.config.DEFAULT_TIME_ZONE, defaultSendHour: 19, pageSize: 7 });

  it("pages through every grant and stores email, provider, status and calendar zone", async () => {
    const r = await syncGrants(p.db, p.nylas, p.log, settings());
    const ids = p.sandbox.grantIds();
    expect(r).toMatchObject({ seen: ids.length, created: ids.length, updated: 0, errors: 0 });
    const rows = await p.db.grant.findMany({ where: { id: { in: ids } } });
    expect(rows).toHaveLength(ids.length);
    let fallbacks = 0;
    const sources = new Set<string>();
    for (const row of rows) {
      const wire = p.sandbox.grant(row.id);
      const state = p.sandbox.store.requireGrant(row.id);
      expect(row.email).toBe(wire.email);
      expect(row.provider).toBe(wire.provider);
      expect(row.status).toBe(wire.grant_status === "valid" ? "valid" : "needs_reauth");
      expect(row.sendHour).toBe(19);
      if (wire.grant_status !== "valid") continue;
      // iCloud has no `primary`: its calendar is picked from the list and stored.
      expect(row.calendarId).toBe(row.provider === "icloud" ? state.primaryCalendarId : "primary");
      // IMAP grants have no calendars: nothing is asked. Only Google calendars show a zone.
      const calendarZone =
        row.provider === "imap" ? undefined : state.calendars.get(state.primaryCalendarId)!.wire.timezone;
      sources.add(row.timeZoneSource);
      if (calendarZone) {
        expect(row.provider).toBe("google");
        expect(row).toMatchObject({ timeZone: calendarZone, timeZoneSource: "calendar" });
      } else if (row.timeZoneSource === "events") {
        // The zone of the events the user organises: the user's own, as the seed knows it.
        expect(row.timeZone).toBe(state.zone);
      } else {
        expect(row).toMatchObject({ timeZone: "Europe/Paris", timeZoneSource: "default" });
        fallbacks++;
      }
      if (row.provider === "imap") expect(row.timeZoneSource).toBe("default");
    }
    expect(fallbacks).toBe(r.zoneFallbacks);
    expect([...sources].sort()).toEqual(["calendar", "default", "events"]);
    expect(r.needsReauth).toBe(rows.filter((x) => x.status === "needs_reauth").length);
    expect(r.needsReauth).toBeGreaterThan(0);
  });

  it("updates without touching operator settings, and follows status changes", async () => {
    const [a, b] = p.sandbox.grantIds().filter((id) => p.sandbox.grant(id).grant_status === "valid");
    await p.db.grant.update({ where: { id: a! }, data: { sendHour: 7, enabled: false } });
    await p.db.grant.update({ where: { id: b! }, data: { status: "revoked" } });
    p.sandbox.invalidateGrant(a!);
    const r = await syncGrants(p.db, p.nylas, p.log, settings());
    expect(r).toMatchObject({ created: 0, updated: p.sandbox.grantIds().length, errors: 0 });
    expect(await p.db.grant.findUniqueOrThrow({ where: { id: a! } })).toMatchObject({
      sendHour: 7,
      enabled: false,
      status: "needs_reauth",
      statusReason: "grant invalid at Nylas",
    });
    expect((await p.db.grant.findUniqueOrThrow({ where: { id: b! } })).status).toBe("revoked");

    p.sandbox.restoreGrant(a!);
    await syncGrants(p.db, p.nylas, p.log, settings());
    expect((await p.db.grant.findUniqueOrThrow({ where: { id: a! } })).status).toBe("valid");
  });

  it("keeps going when one grant's calendar cannot be read", async () => {
    p.sandbox.injectFault({ kind: 500, count: 1, routeClass: "calendars" });
    const r = await syncGrants(p.db, p.nylas, p.log, settings());
    expect(r.errors).toBe(0);
    expect(r.seen).toBe(p.sandbox.grantIds().length);
    expect(p.sink.find(/calendar time zone unavailable/)).toHaveLength(1);
  });

  /** A timed event of the grant `days` from now, starting in `zone`, organised by `organizer` (default: the user). */
  const event = (grantId: string, days: number, zone: string, organizer?: string) => {
    const start = Math.floor(Date.now() / 1000) + Math.round(days * 86_400);
    p.sandbox.addEvent(grantId, {
      title: `in ${zone}`,
      when: { object: "timespan", start_time: start, end_time: start + 1800, start_timezone: zone, end_timezone: zone },
      participants: [{ email: "guest@example.com", status: "yes" }],
      ...(organizer ? { organizer: { email: organizer } } : {}),
    });
  };
  const zoneOf = async (id: string) =>
    p.db.grant.findUniqueOrThrow({ where: { id }, select: { timeZone: true, timeZoneSource: true, calendarId: true } });

  it("infers a grant's zone from the events its user organises when the calendar has none", async () => {
    const id = p.sandbox.addGrant({ email: "infer@example.com", provider: "microsoft", timezone: null }).id;
    event(id, -3, "Europe/Paris");
    event(id, 2, "Europe/Paris");
    event(id, 5, "America/New_York");
    // Others' meetings say where the others are, and far-off events are outside the window.
    for (const d of [1, 2, 3]) event(id, d, "Asia/Tokyo", "boss@example.com");
    for (const d of [INFER_WINDOW_DAYS + 2, INFER_WINDOW_DAYS + 3, -INFER_WINDOW_DAYS - 2]) event(id, d, "Asia/Dubai");
    const r = await syncGrants(p.db, p.nylas, p.log, settings());
    expect(r.errors).toBe(0);
    expect(await zoneOf(id)).toMatchObject({ timeZone: "Europe/Paris", timeZoneSource: "events" });

    // The user moved: their own new meetings outnumber the old ones, and the same source follows.
    for (const d of [6, 7, 8]) event(id, d, "America/Denver");
    const again = await syncGrants(p.db, p.nylas, p.log, settings());
    expect(again.zonesChanged).toBeGreaterThanOrEqual(1);
    expect(await zoneOf(id)).toMatchObject({ timeZone: "America/Denver", timeZoneSource: "events" });
    expect(p.sink.find(/grant time zone changed/).length).toBeGreaterThanOrEqual(1);
  });

  it("never calls a calendar route for IMAP, and finds an iCloud calendar in the list", async () => {
    const imap = p.sandbox.addGrant({ email: "imap@example.com", provider: "imap", timezone: null }).id;
    const icloud = p.sandbox.addGrant({
      email: "icloud@example.com",
      provider: "icloud",
      timezone: null,
      calendar_id: "home-calendar",
    }).id;
    event(icloud, 1, "Australia/Sydney");
    p.sandbox.clearRequestLog();
    await syncGrants(p.db, p.nylas, p.log, settings());
    expect(p.sandbox.requestLog({ grantId: imap }).map((e) => e.route)).toEqual([]);
    expect(await zoneOf(imap)).toMatchObject({ timeZone: "Europe/Paris", timeZoneSource: "default" });
    const routes = p.sandbox.requestLog({ grantId: icloud }).map((e) => `${e.route} ${e.path}`);
    expect(routes.some((r) => r.startsWith("calendars.list"))).toBe(true);
    expect(routes.some((r) => r.includes("primary"))).toBe(false);
    expect(await zoneOf(icloud)).toMatchObject({
      calendarId: "home-calendar",
      timeZone: "Australia/Sydney",
      timeZoneSource: "events",
    });
  });

  it("keeps an operator's override, and lets a calendar's zone change follow", async () => {
    const [a, b] = p.sandbox
      .grantIds()
      .filter((id) => p.sandbox.grant(id).grant_status === "valid" && p.sandbox.grant(id).provider === "google");
    await overrideGrantZone(p.db, a!, "Pacific/Auckland");
    const calendarOf = (id: string) =>
      p.sandbox.store.requireGrant(id).calendars.get(p.sandbox.store.requireGrant(id).primaryCalendarId)!.wire;
    calendarOf(b!).timezone = "America/Halifax";
    await syncGrants(p.db, p.nylas, p.log, settings());
    expect(await zoneOf(a!)).toMatchObject({ timeZone: "Pacific/Auckland", timeZoneSource: "override" });
    expect(await zoneOf(b!)).toMatchObject({ timeZone: "America/Halifax", timeZoneSource: "calendar" });
  });
});
