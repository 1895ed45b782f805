import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { Ledger } from "../../src/reminders/ledger.js";
import { RunStore, type RunFinish } from "../../src/runs/store.js";
import { localDayWindow } from "../../src/time/window.js";
import { deleteGrants, testPrisma, uniqueId } from "../support/db.js";

describe("RunStore (real Postgres)", () => {
  let db: Db;
  let store: RunStore;
  const grants = Array.from({ length: 6 }, () => uniqueId("rs"));
  const day = "2026-11-24";
  const window = { start: 1_795_478_400, end: 1_795_564_800 };
  const done: RunFinish = {
    status: "completed",
    meetingsSeen: 7,
    remindersSkipped: 2,
    skippedByReason: { all_day: 2 },
    lastError: null,
    finishedAt: new Date(),
    durationMs: 1234,
  };

  beforeAll(async () => {
    db = await testPrisma();
    store = new RunStore(db);
    await db.grant.createMany({
      data: grants.map((id, i) => ({
        id,
        email: `${id}@example.com`,
        provider: "google",
        timeZone: "Europe/Berlin",
        status: i === 5 ? "needs_reauth" : "valid",
      })),
    });
  });
  afterAll(async () => {
    await deleteGrants(db, grants);
  });

  it("reads grants, concurrent reads answered each with its own row", async () => {
    const got = await Promise.all([...grants, "no-such-grant"].map((id) => store.grant(id, day)));
    expect(got.slice(0, 6).map((g) => g?.id)).toEqual(grants);
    expect(got[5]).toMatchObject({
      status: "needs_reauth",
      enabled: true,
      timeZone: "Europe/Berlin",
      timeZoneSource: "default",
      calendarId: "primary",
      coverageEnd: null,
    });
    expect(got[6]).toBeUndefined();
  });

  it("starts runs (creating or re-opening them, counting attempts) and keeps a bad call to itself", async () => {
    await db.run.create({
      data: { grantId: grants[1]!, day, timeZone: "UTC", status: "failed", lastError: "earlier", attempts: 2 },
    });
    const results = await Promise.allSettled([
      store.start(grants[0]!, day, "job-0", { timeZone: "Europe/Berlin", timeZoneSource: "calendar" }, window),
      store.start(grants[1]!, day, "job-1", { timeZone: "Europe/Berlin", timeZoneSource: "calendar" }, window),
      store.start("no-such-grant", day, "job-x", { timeZone: "UTC", timeZoneSource: "calendar" }, window), // foreign key: fails alone
      store.start(grants[2]!, day, undefined, { timeZone: "Europe/Berlin", timeZoneSource: "calendar" }, window),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    const runs = await db.run.findMany({
      where: { grantId: { in: grants.slice(0, 3) }, day },
      orderBy: { grantId: "asc" },
    });
    const byGrant = new Map(runs.map((r) => [r.grantId, r]));
    expect(byGrant.get(grants[0]!)).toMatchObject({
      status: "running",
      jobId: "job-0",
      attempts: 1,
      timeZone: "Europe/Berlin",
      timeZoneSource: "calendar",
      windowStart: new Date(window.start * 1000),
      windowEnd: new Date(window.end * 1000),
    });
    expect(byGrant.get(grants[1]!)).toMatchObject({
      status: "running",
      jobId: "job-1",
      attempts: 3,
      lastError: null,
      timeZone: "Europe/Berlin",
    });
    expect(byGrant.get(grants[1]!)!.startedAt).not.toBeNull();
    expect(byGrant.get(grants[2]!)).toMatchObject({ jobId: null, attempts: 1 });
  });

  it("finishes runs with the ledger's totals counted in the same statement", async () => {
    const ledger = new Ledger(db, { leaseMs: 60_000, maxAttempts: 3 });
    const claims = await ledger.claimMany(
      [0, 1, 2, 3, 4].map((k) => ({
        grantId: grants[0]!,
        eventId: `e${k}`,
        eventStart: window.start + 3600 * (k + 1),
        day,
        title: "t",
        recipients: [{ email: "a@example.com" }],
        audience: "",
      })),
    );
    const ids = claims.map((c) => (c.outcome === "claimed" ? c.id : 0n));
    await Promise.all([
      ledger.markSent(ids[0]!, "m0"),
      ledger.markSent(ids[1]!, "m1"),
      ledger.markFailed(ids[2]!, "permanent 400"),
      ledger.markUncertain(ids[4]!, "uncertain: cannot be checked"),
    ]);

    const [a, b, gone] = await Promise.all([
      store.finish(grants[0]!, day, done),
      store.finish(grants[2]!, day, {
        ...done,
        status: "running",
        finishedAt: null,
        durationMs: null,
        lastError: "held",
      }),
      store.finish(grants[3]!, day, done), // no run row: nothing recorded
    ]);
    // With each grant's zone as it is now (the run's grant is read under a share lock).
    expect(a).toEqual({ sent: 2, failed: 1, uncertain: 1, zoneNow: "Europe/Berlin" });
    expect(b).toEqual({ sent: 0, failed: 0, uncertain: 0, zoneNow: "Europe/Berlin" });
    expect(gone).toEqual({ sent: 0, failed: 0, uncertain: 0 });
    const run = await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: grants[0]!, day } } });
    expect(run).toMatchObject({
      status: "completed",
      remindersSent: 2,
      remindersFailed: 1,
      remindersUncertain: 1,
      meetingsSeen: 7,
      remindersSkipped: 2,
      skippedByReason: { all_day: 2 },
      durationMs: 1234,
      lastError: null,
    });
    expect(run.finishedAt).toEqual(done.finishedAt);
    const open = await db.run.findUniqueOrThrow({ where: { grantId_day: { grantId: grants[2]!, day } } });
    expect(open).toMatchObject({ status: "running", finishedAt: null, durationMs: null, lastError: "held" });
    expect(await db.run.count({ where: { grantId: grants[3]! } })).toBe(0);
  });

  const TOKYO = "Asia/Tokyo";
  const LA = "America/Los_Angeles";
  const completed = (grantId: string, d: string, zone: string) => {
    const w = localDayWindow(zone, d);
    return {
      grantId,
      day: d,
      timeZone: zone,
      status: "completed" as const,
      windowStart: new Date(w.start * 1000),
      windowEnd: new Date(w.end * 1000),
    };
  };

  it("reads a grant's coverage end: its latest completed window of the few days before the day", async () => {
    const g = grants[4]!;
    await db.run.createMany({
      data: [
        completed(g, "2026-12-03", TOKYO), // beyond the look-back
        completed(g, "2026-12-08", TOKYO),
        completed(g, "2026-12-09", TOKYO),
        { ...completed(g, "2026-12-11", TOKYO) }, // a later day does not count
        { ...completed(g, "2026-12-07", LA), status: "failed" as const }, // nor a run that did not complete
      ],
    });
    const read = (d: string) => new RunStore(db).grant(g, d);
    expect((await read("2026-12-10"))?.coverageEnd).toBe(localDayWindow(TOKYO, "2026-12-09").end);
    expect((await read("2026-12-09"))?.coverageEnd).toBe(localDayWindow(TOKYO, "2026-12-08").end);
    expect((await read("2026-12-06"))?.coverageEnd).toBe(localDayWindow(TOKYO, "2026-12-03").end);
    expect((await read("2026-12-07"))?.coverageEnd).toBeNull(); // 12-03 is four days back
    await db.run.deleteMany({ where: { grantId: g } });
  });

  it("reopens completed days a new zone's day reaches past, and finds them due there", async () => {
    const g = grants[4]!;
    const D = "2026-12-10";
    await db.run.createMany({ data: [completed(g, "2026-12-09", TOKYO), completed(g, D, TOKYO)] });
    // Tokyo ran D on its eve; the user is now in Los Angeles.
    await db.grant.update({ where: { id: g }, data: { timeZone: LA } });
    const changedAt = new Date("2026-12-09T12:00:00Z");
    expect(await store.reopenForZone(g, LA, changedAt)).toEqual([D]);
    expect(await store.reopenForZone(g, LA, changedAt)).toEqual([]); // done once
    const rows = await db.run.findMany({ where: { grantId: g }, orderBy: { day: "asc" } });
    expect(rows.map((r) => [r.day, r.status])).toEqual([
      ["2026-12-09", "completed"],
      [D, "reopened"],
    ]);

    const mine = async (at: string) => (await store.dueReopened(new Date(at), false)).filter((r) => r.grantId === g);
    expect(await mine("2026-12-10T01:59:00Z")).toEqual([]); // 17:59 in LA on D's eve
    expect(await mine("2026-12-10T02:00:00Z")).toEqual([{ grantId: g, day: D, timeZone: LA, sendHour: 18 }]);
    expect(await mine("2026-12-10T20:00:00Z")).toHaveLength(1); // D itself, under way
    expect(await mine("2026-12-11T08:00:00Z")).toEqual([]); // D has ended in LA
    await db.grant.update({ where: { id: g }, data: { enabled: false } });
    expect(await mine("2026-12-10T02:00:00Z")).toEqual([]); // only grants that can run
    await db.grant.update({ where: { id: g }, data: { enabled: true, timeZone: "Europe/Berlin" } });
    await db.run.deleteMany({ where: { grantId: g } });
  });
});
