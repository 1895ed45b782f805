import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForIdle } from "../../src/redis/idle.js";
import { requeueDays } from "../../src/runs/requeue.js";
import { startClock } from "../../src/time/clock.js";
import { addDays, localDate } from "../../src/time/window.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

/**
 * The reminder policy and the lead, end to end: the real worker over the sandbox, Redis and
 * Postgres, with the deployment's defaults (REMINDER_POLICY=organized, MIN_LEAD_MINUTES=15).
 * The worker runs in this process, so the calendar clock (startClock) is the test's: the run
 * happens at noon UTC of a day two days ahead, and each meeting's start is written relative
 * to that.
 */

const DAY = addDays(localDate("UTC", new Date()), 2);
const NOON = `${DAY}T12:00:00Z`;

describe("reminder policy and never stale (sandbox, Postgres, Redis, the real worker)", { timeout: 120_000 }, () => {
  let p: Pipeline;

  beforeAll(async () => {
    startClock(new Date(NOON));
    p = await startPipeline({ sandbox: { seed: 0 } });
    await p.startWorker();
  });
  afterAll(async () => {
    startClock(undefined);
    await p.close();
  });

  /** A UTC grant of its own, stored by a sync, with three meetings on DAY. */
  const grantWithMeetings = async (name: string) => {
    const email = `${name}-${Math.random().toString(36).slice(2, 10)}@example.com`;
    const id = p.sandbox.addGrant({ email, provider: "google", timezone: "UTC" }).id;
    const meeting = (title: string, utc: string, organizer?: { email: string }) => {
      const start = Date.parse(utc) / 1000;
      p.sandbox.addEvent(id, {
        title,
        when: { object: "timespan", start_time: start, end_time: start + 1800 },
        participants: [
          { email, status: "yes" },
          { email: "guest@partner.org", status: "yes" },
        ],
        ...(organizer ? { organizer } : {}),
      });
    };
    meeting("Own review", `${DAY}T15:00:00Z`); // organised by the user (the sandbox's default)
    meeting("Partner sync (attending)", `${DAY}T16:00:00Z`, { email: "boss@partner.org" });
    meeting("Starts in five minutes", `${DAY}T12:05:00Z`);
    await p.sync();
    return id;
  };

  it("organized (the default) skips a meeting the user only attends; a grant's policy `all` reminds it; nothing within the lead is sent", async () => {
    const byDefault = await grantWithMeetings("default");
    const all = await grantWithMeetings("all");
    await p.db.grant.update({ where: { id: all }, data: { policy: "all" } });
    for (const id of [byDefault, all]) await requeueDays(p.db, p.queue, { id, timeZone: "UTC" }, [DAY], "backfill");
    await waitForIdle(p.queue, 60_000);

    const titles = (grantId: string) =>
      p.sandbox
        .sentMessages({ grantId })
        .map((m) => m.subject)
        .sort();
    expect(titles(byDefault)).toEqual([expect.stringContaining("Own review")]);
    expect(titles(all)).toEqual([expect.stringContaining("Own review"), expect.stringContaining("Partner sync")]);

    const run = (grantId: string) => p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day: DAY } } });
    expect(await run(byDefault)).toMatchObject({
      status: "completed",
      meetingsSeen: 3,
      remindersSent: 1,
      remindersSkipped: 2,
      skippedByReason: { not_organizer: 1, started: 1 },
    });
    expect(await run(all)).toMatchObject({
      status: "completed",
      meetingsSeen: 3,
      remindersSent: 2,
      remindersSkipped: 1,
      skippedByReason: { started: 1 },
    });
    // Too late is decided before any claim: the ledger never saw the meeting.
    const ledger = await p.db.reminder.findMany({ where: { grantId: { in: [byDefault, all] } } });
    expect(ledger.map((r) => r.title).sort()).toEqual(["Own review", "Own review", "Partner sync (attending)"]);
  });
});
