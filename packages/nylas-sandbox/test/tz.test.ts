import { describe, expect, it } from "vitest";
import { CalendarIndex, expandMaster, queryEvents, whenRange } from "../src/events.js";
import { occurrenceDates, parseRecurrence } from "../src/rrule.js";
import { SandboxStore } from "../src/store.js";
import { expectedDecisions, expectedReminders, seed, seedBulk } from "../src/seed.js";
import { addDays, localDate, localDateTime, startOfLocalDay } from "../src/tz.js";

const iso = (ms: number) => new Date(ms).toISOString();

describe("sandbox time zones", () => {
  it("converts local wall times in DST and odd-offset zones", () => {
    expect(iso(localDateTime("America/New_York", "2025-11-02", 9, 0))).toBe("2025-11-02T14:00:00.000Z");
    expect(iso(localDateTime("America/New_York", "2025-07-01", 9, 0))).toBe("2025-07-01T13:00:00.000Z");
    expect(iso(localDateTime("Asia/Kathmandu", "2025-06-10", 9, 0))).toBe("2025-06-10T03:15:00.000Z");
    expect(iso(localDateTime("Australia/Eucla", "2025-06-10", 9, 0))).toBe("2025-06-10T00:15:00.000Z");
    expect(iso(localDateTime("Pacific/Chatham", "2025-01-15", 9, 0))).toBe("2025-01-14T19:15:00.000Z");
    expect(iso(localDateTime("America/St_Johns", "2025-01-15", 9, 0))).toBe("2025-01-15T12:30:00.000Z");
  });

  it("makes DST days 23 and 25 hours long and handles a midnight gap", () => {
    const len = (zone: string, day: string) =>
      (startOfLocalDay(zone, addDays(day, 1)) - startOfLocalDay(zone, day)) / 3_600_000;
    expect(len("America/New_York", "2025-11-02")).toBe(25);
    expect(len("America/New_York", "2025-03-09")).toBe(23);
    expect(len("Australia/Sydney", "2025-10-05")).toBe(23);
    expect(len("Europe/London", "2025-10-26")).toBe(25);
    // Chile springs forward at midnight: the day starts at 01:00 local (04:00Z).
    expect(iso(startOfLocalDay("America/Santiago", "2025-09-07"))).toBe("2025-09-07T04:00:00.000Z");
    expect(len("America/Santiago", "2025-09-07")).toBe(23);
    // Ambiguous 01:30 on the fall-back day resolves to the earlier (EDT) instant.
    expect(iso(localDateTime("America/New_York", "2025-11-02", 1, 30))).toBe("2025-11-02T05:30:00.000Z");
    expect(localDate("Pacific/Kiritimati", Date.parse("2025-06-10T11:00:00Z"))).toBe("2025-06-11");
    expect(localDate("Pacific/Pago_Pago", Date.parse("2025-06-10T09:00:00Z"))).toBe("2025-06-09");
  });
});

describe("sandbox RRULE subset", () => {
  it("expands weekly BYDAY with COUNT and daily INTERVAL/UNTIL", () => {
    const weekly = parseRecurrence(["RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=5"]);
    expect([...occurrenceDates(weekly, "2025-01-01")]).toEqual([
      "2025-01-01",
      "2025-01-03",
      "2025-01-06",
      "2025-01-08",
      "2025-01-10",
    ]);
    const biweekly = parseRecurrence(["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=3"]);
    expect([...occurrenceDates(biweekly, "2025-01-07")]).toEqual(["2025-01-07", "2025-01-21", "2025-02-04"]);
    const daily = parseRecurrence(["RRULE:FREQ=DAILY;INTERVAL=2;COUNT=3"]);
    expect([...occurrenceDates(daily, "2025-01-30")]).toEqual(["2025-01-30", "2025-02-01", "2025-02-03"]);
    expect(() => parseRecurrence(["RRULE:FREQ=MONTHLY"])).toThrow(/FREQ/);
    expect(() => parseRecurrence(["EXDATE:20250101T000000Z"])).toThrow(/RRULE/);
  });

  it("keeps the local wall time across DST and honours UNTIL and EXDATE", () => {
    const cal = new CalendarIndex("c", "America/New_York");
    const s = localDateTime("America/New_York", "2025-03-07", 9, 0) / 1000;
    cal.insert({
      ev: {
        id: "m1",
        object: "event",
        grant_id: "g",
        calendar_id: "c",
        title: "t",
        description: null,
        location: null,
        when: {
          object: "timespan",
          start_time: s,
          end_time: s + 1800,
          start_timezone: "America/New_York",
          end_timezone: "America/New_York",
        },
        participants: [],
        organizer: { email: "a@b.co" },
        busy: true,
        status: "confirmed",
        ical_uid: "x",
        read_only: false,
        created_at: 0,
        updated_at: 0,
        recurrence: ["RRULE:FREQ=DAILY;UNTIL=20250311T235959Z", "EXDATE:20250310T130000Z"],
      },
      s,
      e: s + 1800,
    });
    const occ = expandMaster(cal.masters[0]!, cal.zone, s, s + 30 * 86_400);
    expect(occ.map((o) => iso(o.s * 1000))).toEqual([
      "2025-03-07T14:00:00.000Z",
      "2025-03-08T14:00:00.000Z",
      "2025-03-09T13:00:00.000Z",
      "2025-03-11T13:00:00.000Z",
    ]);
    expect(occ[2]!.ev.id).toBe("m1_20250309T130000Z");
    expect(occ[2]!.ev.master_event_id).toBe("m1");
    expect(occ[2]!.ev.recurrence).toBeUndefined();
  });
});

describe("sandbox event index", () => {
  it("reads all-day shapes in the calendar zone and pages by (start, id)", () => {
    expect(whenRange({ object: "date", date: "2025-06-10" }, "Asia/Tokyo")).toEqual({
      s: Date.parse("2025-06-09T15:00:00Z") / 1000,
      e: Date.parse("2025-06-10T15:00:00Z") / 1000,
    });
    expect(whenRange({ object: "datespan", start_date: "2025-06-10", end_date: "2025-06-11" }, "UTC")).toEqual({
      s: Date.parse("2025-06-10T00:00:00Z") / 1000,
      e: Date.parse("2025-06-12T00:00:00Z") / 1000,
    });
    const store = new SandboxStore(() => Date.parse("2025-06-01T00:00:00Z"));
    const g = store.addGrant({ email: "u@x.test", timezone: "UTC" });
    const base = Date.parse("2025-06-10T00:00:00Z") / 1000;
    for (let i = 0; i < 7; i++)
      store.addEvent(g.grant.id, {
        id: `e${i}`,
        when: { object: "timespan", start_time: base + (i % 3) * 600, end_time: base + 3600 },
      });
    const cal = store.calendar(g, "primary")!.index;
    const p1 = queryEvents(cal, { ws: base, we: base + 7200, limit: 4, expand: false, showCancelled: false });
    expect(p1.items.map((i) => i.ev.id)).toEqual(["e0", "e3", "e6", "e1"]);
    const p2 = queryEvents(cal, {
      ws: base,
      we: base + 7200,
      limit: 4,
      after: p1.next!,
      expand: false,
      showCancelled: false,
    });
    expect(p2.items.map((i) => i.ev.id)).toEqual(["e4", "e2", "e5"]);
    expect(p2.next).toBeUndefined();
  });
});

describe("sandbox seed", () => {
  const NOW = Date.parse("2025-11-01T22:00:00Z"); // 18:00 in New York, the evening before the fall-back day

  it("is deterministic for a seed and differs across seeds", () => {
    // A fixed store clock: events stamp created_at from it, and two stores built across a
    // wall-clock second boundary must still compare equal.
    const clock = () => NOW;
    const a = new SandboxStore(clock);
    const b = new SandboxStore(clock);
    const c = new SandboxStore(clock);
    seed(a, { grants: 6, seed: 5, now: NOW });
    seed(b, { grants: 6, seed: 5, now: NOW });
    seed(c, { grants: 6, seed: 6, now: NOW });
    const dump = (s: SandboxStore) =>
      JSON.stringify(
        s.grantOrder.map((g) => [
          g.grant,
          [...g.calendars.values()].map((cal) =>
            [...cal.index.singles, ...cal.index.masters].map((r) => [r.ev, r.expected]),
          ),
        ]),
      );
    expect(dump(a)).toBe(dump(b));
    expect(dump(a)).not.toBe(dump(c));
    expect(a.grantOrder.map((g) => g.zone)).toEqual([
      "America/New_York",
      "Europe/London",
      "Australia/Sydney",
      "America/Santiago",
      "Asia/Kolkata",
      "Asia/Kathmandu",
    ]);
  });

  it("covers the zone mix, calendars without zone, invalid grants and providers", () => {
    const s = new SandboxStore();
    seed(s, { grants: 25, now: NOW });
    const zones = new Set(s.grantOrder.map((g) => g.zone));
    for (const z of [
      "America/New_York",
      "Europe/London",
      "Australia/Sydney",
      "America/Santiago",
      "Asia/Kolkata",
      "Asia/Kathmandu",
      "Australia/Adelaide",
      "Australia/Eucla",
      "Asia/Tehran",
      "America/St_Johns",
      "Pacific/Chatham",
      "UTC",
      "Pacific/Kiritimati",
      "Pacific/Pago_Pago",
    ]) {
      expect(zones.has(z), z).toBe(true);
    }
    expect(s.grantOrder.filter((g) => g.zone !== "UTC").length).toBeGreaterThanOrEqual(23);
    expect(s.grantOrder.filter((g) => g.grant.grant_status === "invalid").length).toBeGreaterThanOrEqual(2);
    const count = (p: string) => s.grantOrder.filter((g) => g.grant.provider === p).length;
    expect(count("microsoft")).toBeGreaterThanOrEqual(25 / 3);
    expect(count("icloud")).toBeGreaterThanOrEqual(2);
    expect(count("imap")).toBeGreaterThanOrEqual(2);
    expect(count("google") + count("microsoft") + count("icloud") + count("imap")).toBe(25);
    // Only Google calendars show the zone; every prefix of the seed is at least a third Microsoft.
    for (const g of s.grantOrder) {
      const cal = g.calendars.get(g.primaryCalendarId);
      if (g.grant.provider === "imap") expect(cal).toBeUndefined();
      else expect(cal!.wire.timezone).toBe(g.grant.provider === "google" ? g.zone : undefined);
    }
    for (let n = 2; n <= 25; n++) {
      const ms = s.grantOrder.slice(0, n).filter((g) => g.grant.provider === "microsoft").length;
      expect(ms, `first ${n} grants`).toBeGreaterThanOrEqual(n / 3);
    }
  });

  it("annotates a New York fall-back day by hand-checked construction", () => {
    const s = new SandboxStore();
    const { grantIds } = seed(s, { grants: 1, now: NOW });
    const ny = grantIds[0]!;
    const got = expectedReminders(s, { now: NOW });
    expect(new Set(got.map((r) => r.day))).toEqual(new Set(["2025-11-02"]));
    const byTitle = new Map(got.map((r) => [r.title, r]));
    expect([...byTitle.keys()].sort()).toEqual(
      [
        "Candidate panel (hidden guests)",
        "Daily stand-up",
        "Deadline check-in",
        "Duplicates",
        "Interview",
        "Late call (crosses midnight)",
        "Planning (one declined)",
        "Team retro (internal)",
        "Team sync",
      ].sort(),
    );
    expect(iso(byTitle.get("Team sync")!.start * 1000)).toBe("2025-11-02T14:00:00.000Z"); // 09:00 EST
    expect(iso(byTitle.get("Daily stand-up")!.start * 1000)).toBe("2025-11-02T13:30:00.000Z"); // 08:30 EST, after the change
    expect(byTitle.get("Daily stand-up")!.masterEventId).toBeDefined();
    expect(iso(byTitle.get("Late call (crosses midnight)")!.start * 1000)).toBe("2025-11-03T04:00:00.000Z"); // 23:00 EST
    expect(byTitle.get("Candidate panel (hidden guests)")!.individual).toBe(true);
    const dup = byTitle.get("Duplicates")!.recipients;
    expect(dup).toHaveLength(2);
    expect(dup.every((e) => e === e.toLowerCase() && e !== s.getGrant(ny)!.grant.email.toLowerCase())).toBe(true);
    const skipped = expectedDecisions(s, { now: NOW }).filter((d) => !d.remind);
    expect(new Set(skipped.map((d) => d.reason))).toEqual(
      new Set([
        "user_declined",
        "cancelled",
        "all_others_declined",
        "no_other_participants",
        "all_day",
        "not_organizer",
        "too_many_recipients",
        "private",
      ]),
    );
    // The user organises "All hands" for 50: more than 25 recipients.
    expect(skipped.find((d) => d.title === "All hands")!.reason).toBe("too_many_recipients");
    // The previous evening's late call overlaps the day but belongs to Nov 1.
    const prev = expectedReminders(s, { now: NOW, day: "2025-11-01" }).find((r) => r.title.startsWith("Late call"));
    expect(iso(prev!.start * 1000)).toBe("2025-11-02T03:00:00.000Z");
  });

  it("annotates Kathmandu (+05:45) on a Microsoft calendar without a zone, and a zone-less grant in UTC", () => {
    const s = new SandboxStore();
    const { grantIds } = seed(s, { grants: 12, now: NOW });
    const g = s.getGrant(grantIds[5]!)!;
    expect(g.grant.provider).toBe("microsoft");
    expect(g.calendars.get(g.primaryCalendarId)!.wire.timezone).toBeUndefined();
    // The day is the user's true one, whatever the calendar exposes.
    const ktm = expectedReminders(s, { now: NOW, grantIds: [grantIds[5]!] });
    expect(ktm.find((r) => r.title === "Team sync")!.day).toBe("2025-11-03"); // it is already Nov 2 in Kathmandu
    expect(ktm.every((r) => r.zone === "Asia/Kathmandu")).toBe(true);
    expect(iso(ktm.find((r) => r.title === "Team sync")!.start * 1000)).toBe("2025-11-03T03:15:00.000Z");
    // A grant added without any zone: no calendar zone, and its day is UTC.
    const noTz = s.addGrant({ email: "nozone@example.com", timezone: null });
    expect(noTz.calendars.get(noTz.primaryCalendarId)!.wire.timezone).toBeUndefined();
    expect(noTz.zone).toBe("UTC");
    // Invalid grants (index 9) expect nothing unless asked.
    expect(s.getGrant(grantIds[9]!)!.grant.grant_status).toBe("invalid");
    expect(expectedReminders(s, { now: NOW, grantIds: [grantIds[9]!] })).toEqual([]);
    expect(expectedReminders(s, { now: NOW, grantIds: [grantIds[9]!], includeInvalid: true }).length).toBeGreaterThan(
      0,
    );
  });

  it("keeps the annotation on a moved meeting and drops it when participants change", () => {
    const s = new SandboxStore();
    const { grantIds } = seed(s, { grants: 1, now: NOW });
    const id = grantIds[0]!;
    const team = expectedReminders(s, { now: NOW }).find((r) => r.title === "Team sync")!;
    s.moveEvent(id, team.eventId, team.start + 3600);
    const moved = expectedReminders(s, { now: NOW }).find((r) => r.eventId === team.eventId)!;
    expect(moved.start).toBe(team.start + 3600);
    s.updateEvent(id, team.eventId, { participants: [{ email: "x@y.test", status: "yes" }] });
    expect(expectedReminders(s, { now: NOW }).find((r) => r.eventId === team.eventId)).toBeUndefined();
  });

  it("bulk-seeds qualifying meetings with two recipients each", () => {
    const s = new SandboxStore();
    const r = seedBulk(s, { grants: 2000, meetingsPerGrant: 8, now: NOW });
    expect(r.events).toBe(16_000);
    const exp = expectedReminders(s, { now: NOW });
    expect(exp).toHaveLength(16_000);
    expect(exp.every((e) => e.recipients.length === 2)).toBe(true);
  });
});
