import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { syncGrants } from "../../src/grants/sync.js";
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
    for (const row of rows) {
      const wire = p.sandbox.grant(row.id);
      expect(row.email).toBe(wire.email);
      expect(row.provider).toBe(wire.provider);
      expect(row.status).toBe(wire.grant_status === "valid" ? "valid" : "needs_reauth");
      expect(row.sendHour).toBe(19);
      expect(row.calendarId).toBe("primary");
      const calendarZone = p.sandbox.store
        .requireGrant(row.id)
        .calendars.get(p.sandbox.store.requireGrant(row.id).primaryCalendarId)!.wire.timezone;
      if (wire.grant_status !== "valid") continue;
      if (calendarZone) expect(row.timeZone).toBe(calendarZone);
      else {
        expect(row.timeZone).toBe("Europe/Paris");
        fallbacks++;
      }
    }
    expect(fallbacks).toBe(r.zoneFallbacks);
    expect(fallbacks).toBeGreaterThan(0);
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
});
