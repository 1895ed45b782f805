import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRANT_CAN_RUN_WHERE } from "../../src/grants/status.js";
import { reviveRuns } from "../../src/runs/queue.js";
import { waitForIdle } from "../../src/redis/idle.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { localDate, addDays } from "../../src/time/window.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

// The whole nightly batch over grants in many zones (DST, :30 and :45 offsets, no zone),
// against the sandbox, real Redis and real Postgres.
describe("nightly batch", () => {
  let p: Pipeline;
  const now = new Date();

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: { grants: 30, now } } });
    await p.sync();
    await p.startWorker();
  });
  afterAll(async () => {
    await p.close();
  });

  it("sends exactly the expected reminders, once each", async () => {
    const tick = await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 7, ignoreSendHour: true });
    // Grants that can run: valid, enabled, and with calendars (IMAP grants have none).
    const valid = await p.db.grant.count({ where: { id: { in: p.sandbox.grantIds() }, ...GRANT_CAN_RUN_WHERE } });
    expect(tick.enqueued).toBe(valid);
    expect(tick.scanned).toBeGreaterThanOrEqual(valid);
    await waitForIdle(p.queue, 60_000);

    const report = await p.check(now);
    expect(report.expected).toBeGreaterThan(100);
    expect(report).toMatchObject({ ok: true, missing: [], duplicates: [], unexpected: [], wrongRecipients: [] });

    const runs = await p.db.run.findMany({ where: { grantId: { in: p.sandbox.grantIds() } } });
    expect(runs).toHaveLength(valid);
    for (const r of runs) {
      expect(r.status).toBe("completed");
      const zone = (await p.db.grant.findUniqueOrThrow({ where: { id: r.grantId } })).timeZone;
      expect(r.day).toBe(addDays(localDate(zone, now), 1));
      // Counted per message: a meeting with hidden guests is one message per recipient.
      const messages = p.sandbox
        .expectedReminders({ now, grantIds: [r.grantId] })
        .reduce((n, e) => n + (e.individual ? e.recipients.length : 1), 0);
      expect(r.remindersSent).toBe(messages);
      expect(r.finishedAt).not.toBeNull();
    }
    // Every summary line names its grant, day and job.
    const done = p.sink.find(/^run completed$/);
    expect(done).toHaveLength(valid);
    for (const line of done)
      expect(line).toMatchObject({ grantId: expect.any(String), day: expect.any(String), jobId: expect.any(String) });
  });

  it("a second tick and a backfill of the same day send nothing new", async () => {
    const before = p.sandbox.sentCount();
    const tick = await schedulerTick(p.db, p.queue, p.log, { now, pageSize: 50, ignoreSendHour: true });
    expect(tick.enqueued).toBe(0);
    expect(tick.alreadyDone).toBe(tick.due);

    const runs = await p.db.run.findMany({
      where: { grantId: { in: p.sandbox.grantIds() } },
      select: { grantId: true, day: true },
    });
    expect(await reviveRuns(p.queue, runs, "backfill")).toBe(runs.length);
    await waitForIdle(p.queue, 60_000);
    expect(p.sandbox.sentCount()).toBe(before);
    expect((await p.check(now)).ok).toBe(true);
  });

  it("a meeting moved to a new start gets its new reminder, and only that", async () => {
    const target = p.sandbox.expectedReminders({ now }).find((r) => !r.masterEventId)!;
    expect(target).toBeDefined();
    const before = p.sandbox.sentCount();
    p.sandbox.moveEvent(target.grantId, target.eventId, target.start + 1800);
    await reviveRuns(p.queue, [{ grantId: target.grantId, day: target.day }], "backfill");
    await waitForIdle(p.queue, 60_000);

    expect(p.sandbox.sentCount()).toBe(before + 1);
    const rows = await p.db.reminder.findMany({
      where: { grantId: target.grantId, eventId: target.eventId },
      orderBy: { eventStart: "asc" },
    });
    expect(rows.map((r) => [r.eventStart.getTime() / 1000, r.status])).toEqual([
      [target.start, "sent"],
      [target.start + 1800, "sent"],
    ]);
  });
});
