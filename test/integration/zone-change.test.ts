import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitForIdle } from "../../src/redis/idle.js";
import { schedulerTick } from "../../src/runs/scheduler.js";
import { startClock } from "../../src/time/clock.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";

/**
 * A user moves between zones and the nightly runs leave no gap: every meeting of the span
 * between the old zone's last run and the new zone's next one gets exactly one reminder.
 *
 * The grant is a Google one whose calendar zone changes (the sandbox's calendar, as a user
 * changes it when they move); the grants sync applies it through the zone writer. The worker
 * runs in this process, so the calendar clock (startClock) is the test's: each tick and run
 * happens at the instant written next to it. Expectations are the meetings' titles, by hand.
 */

const TOKYO = "Asia/Tokyo"; // UTC+9
const LA = "America/Los_Angeles"; // UTC−8 in December

describe("zone changes leave no gap (sandbox, Postgres, Redis, the real worker)", { timeout: 120_000 }, () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startPipeline({ sandbox: { seed: 0 } });
    await p.startWorker();
  });
  afterEach(() => {
    startClock(undefined);
  });
  afterAll(async () => {
    startClock(undefined);
    await p.close();
  });

  /** A grant of its own whose calendar is in `zone`, stored by a sync. */
  const grant = async (zone: string) => {
    const email = `mover-${Math.random().toString(36).slice(2, 10)}@example.com`;
    const id = p.sandbox.addGrant({ email, provider: "google", timezone: zone }).id;
    await p.sync();
    return id;
  };
  const moveCalendar = async (grantId: string, zone: string, at: string) => {
    const state = p.sandbox.store.requireGrant(grantId);
    state.calendars.get(state.primaryCalendarId)!.wire.timezone = zone;
    startClock(new Date(at));
    await p.sync();
  };
  const meeting = (grantId: string, title: string, utc: string) => {
    const start = Date.parse(utc) / 1000;
    p.sandbox.addEvent(grantId, {
      title,
      when: { object: "timespan", start_time: start, end_time: start + 1800 },
      participants: [{ email: "guest@example.com", status: "yes" }],
    });
  };
  /** A scheduler tick and the worker's runs, at `at` on the calendar clock. */
  const night = async (at: string) => {
    startClock(new Date(at));
    const tick = await schedulerTick(p.db, p.queue, p.log, { now: new Date(at), pageSize: 100 });
    await waitForIdle(p.queue, 30_000);
    return tick;
  };
  /** Reminded titles, with how many times each went out. */
  const reminded = (grantId: string) => {
    const counts = new Map<string, number>();
    for (const m of p.sandbox.sentMessages({ grantId })) {
      const title = /^Reminder: (\S+)/.exec(m.subject)?.[1] ?? m.subject;
      counts.set(title, (counts.get(title) ?? 0) + 1);
    }
    return Object.fromEntries([...counts].sort());
  };
  const runOf = async (grantId: string, day: string) =>
    p.db.run.findUniqueOrThrow({ where: { grantId_day: { grantId, day } } });

  it("east → west: Tokyo ran D, the user moves to Los Angeles, and LA's D runs again on its eve", async () => {
    const D = "2026-12-10";
    const id = await grant(TOKYO);
    meeting(id, "tokyo-morning", "2026-12-09T20:00:00Z"); // D 05:00 Tokyo
    meeting(id, "both", "2026-12-10T10:00:00Z"); // D 19:00 Tokyo, D 02:00 LA
    meeting(id, "gap-early", "2026-12-10T16:00:00Z"); // D+1 01:00 Tokyo, D 08:00 LA
    meeting(id, "gap-evening", "2026-12-11T03:00:00Z"); // D 19:00 LA
    meeting(id, "gap-last", "2026-12-11T07:59:00Z"); // D 23:59 LA
    meeting(id, "la-next", "2026-12-11T09:00:00Z"); // D+1 01:00 LA

    // D-1 18:30 in Tokyo: Tokyo's D runs, [D-1 15:00Z, D 15:00Z).
    await night("2026-12-09T09:30:00Z");
    expect(reminded(id)).toEqual({ both: 1, "tokyo-morning": 1 });
    expect(await runOf(id, D)).toMatchObject({ status: "completed", timeZone: TOKYO, timeZoneSource: "calendar" });

    // The user moves; Tokyo's D covered 17 hours less than LA's D will have: D is reopened.
    await moveCalendar(id, LA, "2026-12-09T12:00:00Z");
    expect(await p.db.grant.findUniqueOrThrow({ where: { id } })).toMatchObject({
      timeZone: LA,
      timeZoneSource: "calendar",
    });
    expect((await runOf(id, D)).status).toBe("reopened");
    expect(p.sink.find(/grant time zone changed/).some((l) => l.grantId === id)).toBe(true);

    // D-1 18:00 in LA: D runs again in LA and sends what Tokyo's D could not, nothing twice.
    const eve = await night("2026-12-10T02:00:00Z");
    expect(eve.revived).toBeGreaterThanOrEqual(1);
    expect(reminded(id)).toEqual({ both: 1, "gap-early": 1, "gap-evening": 1, "gap-last": 1, "tokyo-morning": 1 });
    expect(await runOf(id, D)).toMatchObject({ status: "completed", timeZone: LA, timeZoneSource: "calendar" });

    // D 18:00 in LA: D+1 as usual, from LA's midnight.
    await night("2026-12-11T02:00:00Z");
    expect(reminded(id)).toEqual({
      both: 1,
      "gap-early": 1,
      "gap-evening": 1,
      "gap-last": 1,
      "la-next": 1,
      "tokyo-morning": 1,
    });
    const next = await runOf(id, "2026-12-11");
    expect(next.windowStart).toEqual(new Date("2026-12-11T08:00:00Z"));
  });

  it("west → east: Los Angeles ran D, the user moves to Tokyo; nothing reopens and the overlap sends nothing twice", async () => {
    const D = "2027-01-14";
    const id = await grant(LA);
    meeting(id, "la-day", "2027-01-14T20:00:00Z"); // D 12:00 LA
    meeting(id, "overlap", "2027-01-15T02:00:00Z"); // D 18:00 LA, D+1 11:00 Tokyo
    meeting(id, "tokyo-next", "2027-01-15T10:00:00Z"); // D+1 19:00 Tokyo

    await night("2027-01-14T02:30:00Z"); // D-1 18:30 in LA
    expect(reminded(id)).toEqual({ "la-day": 1, overlap: 1 });
    await moveCalendar(id, TOKYO, "2027-01-14T03:00:00Z");
    expect((await runOf(id, D)).status).toBe("completed");

    await night("2027-01-14T09:30:00Z"); // D 18:30 in Tokyo: D+1, [D 15:00Z, D+1 15:00Z)
    expect(reminded(id)).toEqual({ "la-day": 1, overlap: 1, "tokyo-next": 1 });
    expect(await runOf(id, "2027-01-15")).toMatchObject({ status: "completed", timeZone: TOKYO });
  });

  it("a zone change while the run is in flight: the finishing run reopens its day", async () => {
    const D = "2027-02-10";
    const id = await grant(TOKYO);
    meeting(id, "tokyo", "2027-02-10T01:00:00Z"); // D 10:00 Tokyo
    meeting(id, "gap", "2027-02-11T01:00:00Z"); // D 17:00 LA

    // Tokyo's D starts on its eve; its events read is slow, and the user moves meanwhile.
    p.sandbox.setLatency({ perClass: { events: 1500 } });
    startClock(new Date("2027-02-09T09:30:00Z"));
    await schedulerTick(p.db, p.queue, p.log, { now: new Date("2027-02-09T09:30:00Z"), pageSize: 100 });
    await expect.poll(async () => (await runOf(id, D)).status, { timeout: 10_000, interval: 50 }).toBe("running");
    await moveCalendar(id, LA, "2027-02-09T09:31:00Z");
    // The writer found the run in flight, not completed: nothing reopened yet.
    expect((await runOf(id, D)).status).toBe("running");
    await waitForIdle(p.queue, 30_000);
    p.sandbox.setLatency({ ms: 0 });
    expect(reminded(id)).toEqual({ tokyo: 1 });
    expect(await runOf(id, D)).toMatchObject({ status: "reopened", timeZone: TOKYO });
    expect(p.sink.find(/time zone changed during the run/).some((l) => l.grantId === id)).toBe(true);

    await night("2027-02-10T02:00:00Z"); // D-1 18:00 in LA
    expect(reminded(id)).toEqual({ gap: 1, tokyo: 1 });
  });
});
