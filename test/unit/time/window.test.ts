import { describe, expect, it } from "vitest";
import {
  InvalidDayError,
  InvalidInstantError,
  InvalidZoneError,
  addDays,
  dayFromUnix,
  formatLocal,
  isDueToSend,
  localDate,
  localDayWindow,
  localHour,
  nextLocalDay,
} from "../../../src/time/window.js";

// ---------------------------------------------------------------------------------------------
// Independent oracle: its own Intl formatter and Date.UTC (fine for 2025-2028), no shared code.
// ---------------------------------------------------------------------------------------------
const oracleFormatters = new Map<string, Intl.DateTimeFormat>();
function oracleWall(zone: string, ms: number): { date: string; wallMs: number } {
  let f = oracleFormatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      hour12: false,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    oracleFormatters.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  const [y, mo, d] = [Number(p.year), Number(p.month), Number(p.day)];
  const wallMs = Date.UTC(y, mo - 1, d, Number(p.hour) % 24, Number(p.minute), Number(p.second));
  return { date: `${p.year}-${p.month}-${p.day}`, wallMs };
}
const oracleDate = (zone: string, unixSeconds: number): string => oracleWall(zone, unixSeconds * 1000).date;
const oracleOffset = (zone: string, ms: number): number => oracleWall(zone, ms).wallMs - Math.floor(ms / 1000) * 1000;

/** First Unix second whose local date is >= day: 30-minute scan, then bisection to the second. */
function oracleStartOfDay(zone: string, day: string): number {
  let lo = Date.parse(`${day}T00:00:00Z`) / 1000 - 17 * 3600;
  let hi = lo;
  while (oracleDate(zone, hi) < day) {
    lo = hi;
    hi += 1800;
    if (hi > lo + 40 * 3600) throw new Error("oracle scan ran away");
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (oracleDate(zone, mid) >= day) hi = mid;
    else lo = mid;
  }
  return hi;
}

function calendarNext(day: string, n = 1): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** Transition instants (ms) between 2025-12-25 and 2028-01-08: weekly samples, bisection to the second. */
function oracleTransitions(zone: string): number[] {
  const out: number[] = [];
  const step = 7 * 86_400_000;
  let prevT = Date.UTC(2025, 11, 25);
  let prev = oracleOffset(zone, prevT);
  for (let t = prevT + step; t <= Date.UTC(2028, 0, 8); t += step) {
    const o = oracleOffset(zone, t);
    if (o !== prev) {
      let lo = prevT;
      let hi = t;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (oracleOffset(zone, mid) === prev) lo = mid;
        else hi = mid;
      }
      out.push(hi);
    }
    prev = o;
    prevT = t;
  }
  return out;
}

const ZONES = Intl.supportedValuesOf("timeZone");

/** Returns a list of failures (empty = fine); plain comparisons keep the 400-zone sweep fast. */
function dayProblems(zone: string, day: string, expectedStart?: number, expectedEnd?: number): string[] {
  const w = localDayWindow(zone, day);
  const start = expectedStart ?? oracleStartOfDay(zone, day);
  const end = expectedEnd ?? oracleStartOfDay(zone, calendarNext(day));
  const problems: string[] = [];
  const check = (what: string, got: unknown, want: unknown): void => {
    if (got !== want) problems.push(`${zone} ${day}: ${what} = ${String(got)}, expected ${String(want)}`);
  };
  check("integer bounds", Number.isInteger(w.start) && Number.isInteger(w.end), true);
  check("length", w.end - w.start, end - start);
  check("start", w.start, start);
  check("hours", w.hours, (end - start) / 3600);
  check("date at start", oracleDate(zone, w.start), day);
  check("date 1 s before start", oracleDate(zone, w.start - 1), calendarNext(day, -1));
  check("date at end", oracleDate(zone, w.end), calendarNext(day));
  check("date 1 s before end", oracleDate(zone, w.end - 1), day);
  return problems;
}

describe("localDayWindow over every zone", () => {
  it(`transition days of 2026-2027 in all ${ZONES.length} zones match the Intl oracle`, () => {
    let zonesWithTransitions = 0;
    let daysChecked = 0;
    const problems: string[] = [];
    const lengths = new Set<number>();
    for (const zone of ZONES) {
      const transitions = oracleTransitions(zone);
      if (transitions.length) zonesWithTransitions++;
      const days = new Set<string>();
      for (const t of transitions) {
        const before = oracleWall(zone, t - 1000).date;
        const after = oracleWall(zone, t).date;
        for (const d of [calendarNext(before, -1), before, after, calendarNext(after)]) {
          if (d >= "2026-01-01" && d <= "2027-12-31") days.add(d);
        }
      }
      const starts = new Map<string, number>();
      const startOf = (d: string): number => {
        let s = starts.get(d);
        if (s === undefined) starts.set(d, (s = oracleStartOfDay(zone, d)));
        return s;
      };
      for (const day of days) {
        const start = startOf(day);
        const end = startOf(calendarNext(day));
        problems.push(...dayProblems(zone, day, start, end));
        lengths.add((end - start) / 3600);
        daysChecked++;
      }
    }
    expect(problems).toEqual([]);
    // Sanity: the sweep really found DST zones and odd-length days.
    expect(zonesWithTransitions).toBeGreaterThan(50);
    expect(daysChecked).toBeGreaterThan(500);
    for (const h of [22, 23, 23.5, 24, 24.5, 25]) expect(lengths.has(h), `a ${h}-hour day`).toBe(true);
  });

  it("ordinary days (the 1st of every month of 2026-2027) in all zones satisfy the invariants", () => {
    const problems: string[] = [];
    for (const zone of ZONES) {
      for (let m = 0; m < 24; m++) {
        const day = `${2026 + Math.floor(m / 12)}-${String((m % 12) + 1).padStart(2, "0")}-01`;
        const w = localDayWindow(zone, day);
        if (oracleDate(zone, w.start) !== day) problems.push(`${zone} ${day}: start`);
        if (oracleDate(zone, w.start - 1) !== calendarNext(day, -1)) problems.push(`${zone} ${day}: start-1`);
        if (oracleDate(zone, w.end) !== calendarNext(day)) problems.push(`${zone} ${day}: end`);
        if (oracleDate(zone, w.end - 1) !== day) problems.push(`${zone} ${day}: end-1`);
        if (w.hours !== (w.end - w.start) / 3600) problems.push(`${zone} ${day}: hours`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("consecutive windows tile the timeline (every day of 2026-2027, a few hard zones)", () => {
    for (const zone of [
      "America/New_York",
      "America/Havana",
      "Africa/Cairo",
      "America/Santiago",
      "Asia/Beirut",
      "Pacific/Chatham",
      "Australia/Lord_Howe",
      "Antarctica/Troll",
    ]) {
      let day = "2026-01-01";
      let prev = localDayWindow(zone, day);
      let total = prev.end - prev.start;
      for (let i = 1; i < 730; i++) {
        day = addDays(day, 1);
        const w = localDayWindow(zone, day);
        expect(w.start, `${zone} ${day}`).toBe(prev.end);
        total += w.end - w.start;
        prev = w;
      }
      // Two years of local days = two years of elapsed time, give or take the net offset change.
      expect(total).toBe(localDayWindow(zone, "2028-01-01").start - localDayWindow(zone, "2026-01-01").start);
    }
  });
});

describe("localDayWindow hand-written cases", () => {
  const iso = (s: string): number => Date.parse(s) / 1000;
  // [zone, day, start (UTC), hours, local wall clock at start]
  const cases: [string, string, string, number, string][] = [
    ["America/New_York", "2026-03-08", "2026-03-08T05:00:00Z", 23, "00:00"],
    ["America/New_York", "2026-11-01", "2026-11-01T04:00:00Z", 25, "00:00"],
    ["America/New_York", "2026-07-14", "2026-07-14T04:00:00Z", 24, "00:00"],
    ["Europe/London", "2026-03-29", "2026-03-29T00:00:00Z", 23, "00:00"],
    ["Europe/London", "2026-10-25", "2026-10-24T23:00:00Z", 25, "00:00"],
    ["Europe/Berlin", "2026-11-24", "2026-11-23T23:00:00Z", 24, "00:00"],
    ["Australia/Sydney", "2026-04-05", "2026-04-04T13:00:00Z", 25, "00:00"],
    ["Australia/Sydney", "2026-10-04", "2026-10-03T14:00:00Z", 23, "00:00"],
    ["Asia/Kolkata", "2026-01-01", "2025-12-31T18:30:00Z", 24, "00:00"],
    ["Asia/Kathmandu", "2026-06-15", "2026-06-14T18:15:00Z", 24, "00:00"],
    ["Australia/Eucla", "2026-07-01", "2026-06-30T15:15:00Z", 24, "00:00"],
    ["Australia/Adelaide", "2026-04-05", "2026-04-04T13:30:00Z", 25, "00:00"],
    ["Australia/Adelaide", "2026-10-04", "2026-10-03T14:30:00Z", 23, "00:00"],
    ["America/St_Johns", "2026-03-08", "2026-03-08T03:30:00Z", 23, "00:00"],
    ["America/St_Johns", "2026-11-01", "2026-11-01T02:30:00Z", 25, "00:00"],
    ["Pacific/Chatham", "2026-04-05", "2026-04-04T10:15:00Z", 25, "00:00"],
    ["Pacific/Chatham", "2026-09-27", "2026-09-26T11:15:00Z", 23, "00:00"],
    ["Australia/Lord_Howe", "2026-04-05", "2026-04-04T13:00:00Z", 24.5, "00:00"],
    ["Antarctica/Troll", "2026-03-29", "2026-03-29T00:00:00Z", 22, "00:00"],
    // Midnight skipped (00:00 → 01:00): the day starts at 01:00, the first instant that exists.
    ["America/Santiago", "2026-09-06", "2026-09-06T04:00:00Z", 23, "01:00"],
    ["Africa/Cairo", "2026-04-24", "2026-04-23T22:00:00Z", 23, "01:00"],
    ["Africa/Cairo", "2027-04-30", "2027-04-29T22:00:00Z", 23, "01:00"],
    ["America/Havana", "2026-03-08", "2026-03-08T05:00:00Z", 23, "01:00"],
    ["Asia/Beirut", "2026-03-29", "2026-03-28T22:00:00Z", 23, "01:00"],
    ["Atlantic/Azores", "2026-03-29", "2026-03-29T01:00:00Z", 23, "01:00"],
    // Midnight repeated (01:00 → 00:00): the day starts at the FIRST 00:00.
    ["America/Havana", "2026-11-01", "2026-11-01T04:00:00Z", 25, "00:00"],
    ["America/Havana", "2027-11-07", "2027-11-07T04:00:00Z", 25, "00:00"],
    ["Atlantic/Azores", "2026-10-25", "2026-10-25T00:00:00Z", 25, "00:00"],
    ["Atlantic/Azores", "2026-10-24", "2026-10-24T00:00:00Z", 24, "00:00"],
    // Fall-back at local 24:00 → 23:00: the Saturday is 25 h, Sunday's midnight happens once.
    ["America/Santiago", "2026-04-04", "2026-04-04T03:00:00Z", 25, "00:00"],
    ["Africa/Cairo", "2026-10-29", "2026-10-28T21:00:00Z", 25, "00:00"],
    // 23:00 → 00:00: the Saturday loses its last hour, Sunday starts at the transition.
    ["America/Nuuk", "2026-03-28", "2026-03-28T02:00:00Z", 23, "00:00"],
    ["America/Nuuk", "2026-03-29", "2026-03-29T01:00:00Z", 24, "00:00"],
    // Extremes of the offset range.
    ["Pacific/Kiritimati", "2026-01-01", "2025-12-31T10:00:00Z", 24, "00:00"],
    ["Pacific/Pago_Pago", "2026-01-01", "2026-01-01T11:00:00Z", 24, "00:00"],
    ["UTC", "2026-06-01", "2026-06-01T00:00:00Z", 24, "00:00"],
    ["Etc/GMT+12", "2027-12-31", "2027-12-31T12:00:00Z", 24, "00:00"],
    // Leap days.
    ["Asia/Tokyo", "2028-02-29", "2028-02-28T15:00:00Z", 24, "00:00"],
  ];
  it.each(cases)("%s %s starts %s, %s h, local %s", (zone, day, startIso, hours, wall) => {
    const w = localDayWindow(zone, day);
    expect(w.start).toBe(iso(startIso));
    expect(w.hours).toBe(hours);
    expect(w.end).toBe(w.start + hours * 3600);
    expect(formatLocal(zone, w.start, "yyyy-MM-dd HH:mm")).toBe(`${day} ${wall}`);
    expect(dayProblems(zone, day)).toEqual([]);
  });

  it("accepts case variants and links Intl knows", () => {
    expect(localDayWindow("america/new_york", "2026-03-08")).toEqual(localDayWindow("America/New_York", "2026-03-08"));
    expect(localDayWindow("US/Eastern", "2026-03-08")).toEqual(localDayWindow("America/New_York", "2026-03-08"));
  });
});

describe("errors", () => {
  const badZones: unknown[] = [
    "Foo/Bar",
    "",
    "   ",
    "America/New_York\n",
    "Mars/Olympus_Mons",
    "+05:30",
    42,
    null,
    undefined,
    {},
    "x".repeat(500),
  ];
  it.each(badZones.map((z) => [z]))("zone %j → InvalidZoneError", (zone) => {
    expect(() => localDayWindow(zone as string, "2026-01-01")).toThrow(InvalidZoneError);
    expect(() => localDate(zone as string, new Date())).toThrow(InvalidZoneError);
  });
  const badDays: unknown[] = [
    "2026-02-30",
    "2026-02-29",
    "2100-02-29",
    "2026-13-01",
    "2026-00-10",
    "2026-04-31",
    "2026-01-00",
    "2026-01-32",
    "2026-1-1",
    "26-01-01",
    " 2026-01-01",
    "2026-01-01 ",
    "2026-01-01T00:00",
    "2026/01/01",
    "",
    "0000-01-01",
    "9999-12-31",
    "٢٠٢٦-٠١-٠١",
    "2026-01-01\n",
    null,
    20260101,
    undefined,
    new Date(),
  ];
  it.each(badDays.map((d) => [d]))("day %j → InvalidDayError", (day) => {
    expect(() => localDayWindow("UTC", day as string)).toThrow(InvalidDayError);
  });
  it("valid leap days pass", () => {
    expect(localDayWindow("UTC", "2024-02-29").hours).toBe(24);
    expect(localDayWindow("UTC", "2000-02-29").hours).toBe(24);
  });
  it("messages are one line and bounded", () => {
    for (const f of [
      () => localDayWindow("Evil/\r\nX-Header: 1", "2026-01-01"),
      () => localDayWindow("UTC", `2026-01-01\r\n${"x".repeat(1000)}`),
    ]) {
      let message = "";
      try {
        f();
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).not.toMatch(/[\r\n]/);
      expect(message.length).toBeGreaterThan(0);
      expect(message.length).toBeLessThan(120);
    }
  });
  it("invalid instants → InvalidInstantError", () => {
    expect(() => localDate("UTC", new Date(Number.NaN))).toThrow(InvalidInstantError);
    expect(() => localHour("UTC", "2026-01-01" as unknown as Date)).toThrow(InvalidInstantError);
    expect(() => dayFromUnix("UTC", Number.NaN)).toThrow(InvalidInstantError);
    expect(() => formatLocal("UTC", Infinity, "yyyy")).toThrow(InvalidInstantError);
  });
  it("isDueToSend rejects impossible send hours", () => {
    for (const h of [-1, 24, 8.5, Number.NaN]) expect(() => isDueToSend("UTC", h, new Date())).toThrow(RangeError);
  });
});

describe("addDays", () => {
  it.each([
    ["2026-01-01", 1, "2026-01-02"],
    ["2026-12-31", 1, "2027-01-01"],
    ["2026-03-01", -1, "2026-02-28"],
    ["2028-03-01", -1, "2028-02-29"],
    ["2026-01-31", 30, "2026-03-02"],
    ["2026-06-15", 0, "2026-06-15"],
    ["2026-01-01", 365, "2027-01-01"],
    ["2028-01-01", 366, "2029-01-01"],
    ["2100-02-28", 1, "2100-03-01"],
    ["2000-02-28", 1, "2000-02-29"],
    ["1970-01-01", -1, "1969-12-31"],
    ["0001-01-01", 0, "0001-01-01"],
  ] as const)("%s %+d → %s", (day, n, expected) => {
    expect(addDays(day, n)).toBe(expected);
  });
  it("matches Date arithmetic for every day of 2026-2028", () => {
    let day = "2026-01-01";
    for (let i = 0; i < 1096; i++) {
      expect(day).toBe(calendarNext("2026-01-01", i));
      day = addDays(day, 1);
    }
  });
  it("rejects bad input", () => {
    expect(() => addDays("2026-02-30", 1)).toThrow(InvalidDayError);
    expect(() => addDays("2026-01-01", 0.5)).toThrow(InvalidDayError);
    expect(() => addDays("9999-12-31", 1)).toThrow(InvalidDayError);
  });
});

describe("localDate / localHour / nextLocalDay / isDueToSend", () => {
  const at = (s: string): Date => new Date(s);
  it.each([
    // zone, instant, local date, local hour, tomorrow
    ["America/New_York", "2026-03-08T04:59:59Z", "2026-03-07", 23, "2026-03-08"],
    ["America/New_York", "2026-03-08T05:00:00Z", "2026-03-08", 0, "2026-03-09"],
    ["America/New_York", "2026-03-08T07:00:00Z", "2026-03-08", 3, "2026-03-09"],
    ["Asia/Kathmandu", "2026-06-14T18:14:59Z", "2026-06-14", 23, "2026-06-15"],
    ["Asia/Kathmandu", "2026-06-14T18:15:00Z", "2026-06-15", 0, "2026-06-16"],
    ["Pacific/Kiritimati", "2026-12-31T10:00:00Z", "2027-01-01", 0, "2027-01-02"],
    ["Pacific/Pago_Pago", "2027-01-01T10:59:59Z", "2026-12-31", 23, "2027-01-01"],
    ["Pacific/Chatham", "2026-06-30T11:15:00Z", "2026-07-01", 0, "2026-07-02"],
    ["America/Havana", "2026-11-01T04:30:00Z", "2026-11-01", 0, "2026-11-02"],
    ["America/Havana", "2026-11-01T05:30:00Z", "2026-11-01", 0, "2026-11-02"],
    ["Africa/Cairo", "2026-04-23T22:00:00Z", "2026-04-24", 1, "2026-04-25"],
  ])("%s at %s is %s, hour %d, tomorrow %s", (zone, instant, date, hour, tomorrow) => {
    expect(localDate(zone, at(instant))).toBe(date);
    expect(localHour(zone, at(instant))).toBe(hour);
    expect(nextLocalDay(zone, at(instant))).toBe(tomorrow);
    expect(dayFromUnix(zone, at(instant).getTime() / 1000)).toBe(date);
  });

  it.each([
    // zone, sendHour, now, due, day
    ["Europe/Berlin", 18, "2026-11-23T16:59:59Z", false, "2026-11-24"],
    ["Europe/Berlin", 18, "2026-11-23T17:00:00Z", true, "2026-11-24"],
    ["Europe/Berlin", 18, "2026-11-23T22:59:59Z", true, "2026-11-24"],
    ["Europe/Berlin", 18, "2026-11-23T23:00:00Z", false, "2026-11-25"],
    ["Asia/Kathmandu", 18, "2026-06-14T12:15:00Z", true, "2026-06-15"],
    ["Asia/Kathmandu", 18, "2026-06-14T12:14:59Z", false, "2026-06-15"],
    ["America/New_York", 0, "2026-03-08T05:00:00Z", true, "2026-03-09"],
    // sendHour 2 on a spring-forward day: 02:xx never happens, due from 03:00.
    ["America/New_York", 2, "2026-03-08T06:59:59Z", false, "2026-03-09"],
    ["America/New_York", 2, "2026-03-08T07:00:00Z", true, "2026-03-09"],
    ["Pacific/Kiritimati", 20, "2026-06-01T06:00:00Z", true, "2026-06-02"],
    ["Pacific/Pago_Pago", 20, "2026-06-01T06:00:00Z", false, "2026-06-01"],
    // America/Nuuk, 2026-03-28: 22:59:59 -02 → 00:00 -01, so 23:00 never comes. The 29th is
    // due from the gap's end (its own 00:00) until its evening's 23:00, then the 30th.
    ["America/Nuuk", 23, "2026-03-29T00:59:59Z", false, "2026-03-29"],
    ["America/Nuuk", 23, "2026-03-29T01:00:00Z", true, "2026-03-29"],
    ["America/Nuuk", 23, "2026-03-29T23:59:59Z", true, "2026-03-29"],
    ["America/Nuuk", 23, "2026-03-30T00:00:00Z", true, "2026-03-30"],
    ["America/Nuuk", 23, "2026-03-30T01:00:00Z", false, "2026-03-31"],
    ["America/Scoresbysund", 23, "2027-03-28T01:00:00Z", true, "2027-03-28"],
    // A skipped midnight alone takes no evening: Havana's 00:00 → 01:00 keeps 23:00.
    ["America/Havana", 23, "2026-03-08T05:00:00Z", false, "2026-03-09"],
  ] as const)("%s sendHour %d at %s → due %s for %s", (zone, hour, now, due, day) => {
    expect(isDueToSend(zone, hour, at(now))).toEqual({ due, day });
  });

  // The promise behind a nightly batch: every local day is due on some instant, days become
  // due in order, and never before their eve. Checked every 15 minutes around every offset
  // change of 2026-2027 in every zone, for every send hour.
  it("makes every local day due, in order, around every transition of 2026-2027", () => {
    const HOUR = 3_600_000;
    const DAY = 24 * HOUR;
    const from = Date.UTC(2026, 0, 1);
    const to = Date.UTC(2028, 0, 1);
    // Offset changes found day by day, then to the hour; zones that share one (same instant,
    // same offsets) are checked once.
    const changes = new Map<string, { zone: string; at: number }>();
    for (const zone of Intl.supportedValuesOf("timeZone")) {
      let prev = oracleOffset(zone, from);
      for (let d = from + DAY; d < to; d += DAY) {
        const o = oracleOffset(zone, d);
        if (o === prev) continue;
        let at = d - DAY;
        while (oracleOffset(zone, at) === prev) at += HOUR;
        changes.set(`${at}:${prev}:${o}`, { zone, at });
        prev = o;
      }
    }
    expect(changes.size).toBeGreaterThan(100);
    for (const { zone, at } of changes.values()) {
      for (let hour = 0; hour < 24; hour++) {
        const seen: string[] = [];
        // Every 15 minutes near the change, hourly further out (no due spell is shorter there).
        for (let u = at - 1.5 * DAY; u <= at + 1.5 * DAY; u += Math.abs(u - at) < 4 * HOUR ? 15 * 60_000 : HOUR) {
          const now = new Date(u);
          const r = isDueToSend(zone, hour, now);
          if (!r.due) continue;
          expect([localDate(zone, now), nextLocalDay(zone, now)], `${zone} ${hour} ${u}`).toContain(r.day);
          if (seen.at(-1) !== r.day) seen.push(r.day);
        }
        // Consecutive due days, each one after the last: none skipped, none revisited.
        expect(seen.length, `${zone} sendHour ${hour}`).toBeGreaterThanOrEqual(2);
        for (let i = 1; i < seen.length; i++)
          expect(seen[i], `${zone} sendHour ${hour}: ${seen.join(" ")}`).toBe(addDays(seen[i - 1]!, 1));
      }
    }
  });
});

describe("formatLocal", () => {
  it.each([
    [
      "Europe/Berlin",
      "2026-11-24T08:30:00Z",
      "EEEE d MMMM yyyy, HH:mm (VV, zzz)",
      "Tuesday 24 November 2026, 09:30 (Europe/Berlin, CET)",
    ],
    ["Europe/Berlin", "2026-07-24T08:30:00Z", "HH:mm zzz xxx", "10:30 CEST +02:00"],
    ["America/New_York", "2026-03-08T07:30:00Z", "h:mm a zzz", "3:30 AM EDT"],
    ["America/New_York", "2026-03-08T06:30:00Z", "h:mm a zzz", "1:30 AM EST"],
    ["Asia/Kathmandu", "2026-06-15T03:00:00Z", "h:mm a zzz xxx", "8:45 AM GMT+5:45 +05:45"],
    ["Pacific/Chatham", "2026-06-15T00:00:00Z", "HH:mm zzz xxx", "12:45 CHAST +12:45"],
    ["Asia/Kolkata", "2026-06-15T00:00:00Z", "HH:mm zzz", "05:30 IST"],
    ["America/St_Johns", "2026-01-15T12:00:00Z", "hh:mm a xxx", "08:30 AM -03:30"],
    ["UTC", "2026-01-01T00:00:00Z", "EEE MMM d 'at' H:mm:ss zzz '(yyyy)' ''", "Thu Jan 1 at 0:00:00 UTC (yyyy) '"],
    ["Asia/Tokyo", "2026-12-31T15:00:00Z", "yyyy-MM-dd HH:mm", "2027-01-01 00:00"],
  ])("%s %s %s", (zone, instant, pattern, expected) => {
    expect(formatLocal(zone, Date.parse(instant) / 1000, pattern)).toBe(expected);
  });
});
