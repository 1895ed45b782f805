import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJobId } from "../../src/runs/job.js";
import { secondSweep } from "../../src/runs/sweep.js";
import { clockNow } from "../../src/time/clock.js";
import { localDayWindow, nextLocalDay } from "../../src/time/window.js";
import { uniqueId } from "../support/db.js";
import { addMeeting, at, mail, openJobs, runDay, runRerun, runStatus, type DayDeps } from "../support/changes.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// A zone few other grants share: the sweep reads every completed run of the shared database
// whose day begins within the hour after its `now`, and +14:00 keeps that set to this grant.
const ZONE = "Pacific/Kiritimati";

/**
 * Without webhooks, the second sweep: the scheduler re-runs a completed day once, a few hours
 * before it begins, against the sandbox, Redis and Postgres. Nothing notifies the worker: the
 * sandbox has no webhook destination.
 */
describe("the second sweep (no webhooks)", () => {
  let p: Pipeline;
  let d: DayDeps;
  beforeAll(async () => {
    p = await startPipeline();
    expect(p.config.NYLAS_WEBHOOK_SECRET).toBeUndefined();
    await p.startWorker();
    d = { db: p.db, queue: p.queue, sandbox: p.sandbox, nylas: p.nylas };
  });
  afterAll(async () => {
    await p?.close();
  });

  it("re-runs a completed day once before it begins: the added meeting, the move and the cancellation go out, once", async () => {
    const g = p.sandbox.addGrant({ email: `${uniqueId("sw")}@example.com`.toLowerCase(), timezone: ZONE });
    await p.sync();
    const day = nextLocalDay(ZONE, clockNow());
    const planning = addMeeting(p.sandbox, g.id, "Planning", at(ZONE, day, 11));
    const sync = addMeeting(p.sandbox, g.id, "Sync", at(ZONE, day, 9));
    await runDay(d, g.id, day);
    expect(await mail(d, g.id)).toHaveLength(2);

    p.sandbox.addEvent(g.id, {
      title: "Review",
      when: { start_time: at(ZONE, day, 13), end_time: at(ZONE, day, 14) },
      participants: [{ email: "dana@example.com" }],
    });
    p.sandbox.moveEvent(g.id, planning.id, at(ZONE, day, 15));
    p.sandbox.deleteEvent(g.id, sync.id);
    expect(p.sandbox.webhooks.deliveries({ grantId: g.id })).toEqual([]);

    const begins = localDayWindow(ZONE, day).start * 1000;
    const settings = { hoursBefore: 1, delayMs: 60_000 };
    // The run read the calendar at its send hour, hours before the sweep's hour (a run that
    // finished within that hour is not swept: it is recent). Written here, not waited for.
    await p.db.run.update({
      where: { grantId_day: { grantId: g.id, day } },
      data: { finishedAt: new Date(begins - 4 * 3_600_000) },
    });
    // Too early: more than an hour before the day begins.
    await secondSweep(p.db, p.queue, p.log, new Date(begins - 61 * 60_000), settings);
    expect(await openJobs(d, g.id)).toHaveLength(0);
    expect(await runStatus(p.db, g.id, day)).toBe("completed");

    const now = new Date(begins - 30 * 60_000);
    expect(await secondSweep(p.db, p.queue, p.log, now, settings)).toBeGreaterThanOrEqual(1);
    expect(await p.db.run.findUnique({ where: { grantId_day: { grantId: g.id, day } } })).toMatchObject({
      status: "queued",
      sweptAt: now,
    });
    await runRerun(d, g.id, day);

    const after = (await mail(d, g.id)).slice(2).sort((x, y) => (x.subject < y.subject ? -1 : 1));
    expect(after.map((m) => [m.subject, m.to])).toEqual([
      [expect.stringMatching(/^Cancelled: Sync /), ["bob@example.com"]],
      [expect.stringMatching(/^Reminder: Planning /), ["bob@example.com"]],
      [expect.stringMatching(/^Reminder: Review /), ["dana@example.com"]],
    ]);
    expect(after[1]!.body).toContain("Moved: now at 15:00 (was 11:00)");

    // Once per day: a later sweep leaves the day alone.
    await secondSweep(p.db, p.queue, p.log, new Date(begins - 10 * 60_000), settings);
    expect(await openJobs(d, g.id)).toHaveLength(0);
    expect(await p.queue.getJobState(runJobId(g.id, day))).toBe("completed");
    expect(await runStatus(p.db, g.id, day)).toBe("completed");
    expect(await mail(d, g.id)).toHaveLength(5);
  });
});
