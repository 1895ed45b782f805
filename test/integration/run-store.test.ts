import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../src/db/client.js";
import { Ledger } from "../../src/reminders/ledger.js";
import { RunStore, type RunFinish } from "../../src/runs/store.js";
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
    const got = await Promise.all([...grants, "no-such-grant"].map((id) => store.grant(id)));
    expect(got.slice(0, 6).map((g) => g?.id)).toEqual(grants);
    expect(got[5]).toMatchObject({
      status: "needs_reauth",
      enabled: true,
      timeZone: "Europe/Berlin",
      calendarId: "primary",
    });
    expect(got[6]).toBeUndefined();
  });

  it("starts runs (creating or re-opening them, counting attempts) and keeps a bad call to itself", async () => {
    await db.run.create({
      data: { grantId: grants[1]!, day, timeZone: "UTC", status: "failed", lastError: "earlier", attempts: 2 },
    });
    const results = await Promise.allSettled([
      store.start(grants[0]!, day, "job-0", "Europe/Berlin", window),
      store.start(grants[1]!, day, "job-1", "Europe/Berlin", window),
      store.start("no-such-grant", day, "job-x", "UTC", window), // foreign key: fails alone
      store.start(grants[2]!, day, undefined, "Europe/Berlin", window),
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
    expect(a).toEqual({ sent: 2, failed: 1, uncertain: 1 });
    expect(b).toEqual({ sent: 0, failed: 0, uncertain: 0 });
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
});
