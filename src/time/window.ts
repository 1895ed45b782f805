/**
 * Local-day windows and the "is it time to send?" clock, for any IANA zone.
 *
 * A local day D is [first instant whose local date is D, first instant whose local date is D+1).
 * - Usual days are 24 h; DST days 23 h / 25 h (23.5 h / 24.5 h on Australia/Lord_Howe).
 * - Midnight skipped (Africa/Cairo 2026-04-24, America/Havana 2026-03-08, America/Santiago
 *   2026-09-06, Asia/Beirut 2026-03-29: 00:00 → 01:00): the day starts at the first instant that
 *   exists on that date, i.e. the transition instant (01:00 local).
 * - Midnight repeated (America/Havana 2026-11-01, Atlantic/Azores 2026-10-25: 01:00 → 00:00):
 *   the day starts at the FIRST 00:00, so the previous day is never longer than it looks and the
 *   windows of consecutive days tile the timeline with no gap and no overlap.
 * Unix seconds throughout; all inputs validated (typed errors, never NaN).
 */
import { DAY_MS, addDays, civilFromDays, formatDays, parseDay, weekdayOfDays } from "./calendar.js";
import { InvalidInstantError } from "./errors.js";
import { assertEpochMs, assertZone, gmtOffsetLabel, offsetMs, wallClockMs, zoneAbbreviation } from "./zone.js";

export { addDays } from "./calendar.js";
export { InvalidDayError, InvalidInstantError, InvalidZoneError, TimeError } from "./errors.js";
export { isValidZone, displayZone } from "./zone.js";

export interface DayWindow {
  /** Unix seconds, inclusive. */
  start: number;
  /** Unix seconds, exclusive. */
  end: number;
  /** (end - start) / 3600: 24, 23, 25, 23.5, … */
  hours: number;
}

function instantMs(instant: Date): number {
  if (!(instant instanceof Date)) throw new InvalidInstantError(instant);
  return assertEpochMs(instant.getTime());
}

function unixMs(unixSeconds: number): number {
  if (typeof unixSeconds !== "number" || !Number.isFinite(unixSeconds)) throw new InvalidInstantError(unixSeconds);
  return assertEpochMs(unixSeconds * 1000);
}

/** Epoch ms of the first instant whose local wall clock reads `dayNumber` 00:00 or later. */
function startOfLocalDayMs(zone: string, dayNumber: number): number {
  return firstInstantOfWall(zone, dayNumber * DAY_MS);
}

/**
 * Epoch ms of the first instant whose local wall clock reads `wall` ("wall-clock-as-UTC" ms)
 * or later: the earlier one when the wall time repeats, the end of the gap when it is skipped.
 */
function firstInstantOfWall(zone: string, wall: number): number {
  // Offsets a day either side bracket any single transition near this wall time.
  const before = offsetMs(zone, wall - DAY_MS);
  const after = offsetMs(zone, wall + DAY_MS);
  let best: number | undefined;
  for (const o of before === after ? [before] : [before, after]) {
    const t = wall - o;
    if (wallClockMs(zone, t) === wall && (best === undefined || t < best)) best = t; // first midnight wins
  }
  if (best !== undefined) return best;
  return firstInstantAtOrAfterWall(zone, wall, Math.min(before, after), Math.max(before, after));
}

/** Midnight does not exist: find the transition instant by bisection to the second. */
function firstInstantAtOrAfterWall(zone: string, wall: number, minOffset: number, maxOffset: number): number {
  const reached = (t: number): boolean => wallClockMs(zone, t) >= wall;
  let lo = wall - maxOffset;
  let hi = wall - minOffset;
  if (reached(lo) || !reached(hi)) {
    // Not a single clean transition (never seen in real tz data): widen and scan in 15-minute steps.
    lo = wall - 2 * DAY_MS;
    hi = lo;
    while (!reached(hi)) {
      lo = hi;
      hi += 900_000;
      if (hi > wall + 2 * DAY_MS) return wall - maxOffset;
    }
  }
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (reached(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The window [local 00:00 of `day`, local 00:00 of the next day) in `zone`, as Unix seconds. */
export function localDayWindow(zone: string, day: string): DayWindow {
  assertZone(zone);
  const n = parseDay(day);
  formatDays(n + 1); // next day must be representable too
  const startMs = startOfLocalDayMs(zone, n);
  const endMs = startOfLocalDayMs(zone, n + 1);
  return { start: startMs / 1000, end: endMs / 1000, hours: (endMs - startMs) / 3_600_000 };
}

/** YYYY-MM-DD of `instant` in `zone`. */
export function localDate(zone: string, instant: Date): string {
  assertZone(zone);
  return formatDays(Math.floor(wallClockMs(zone, instantMs(instant)) / DAY_MS));
}

/** YYYY-MM-DD in `zone` of a Unix-seconds instant. */
export function dayFromUnix(zone: string, unixSeconds: number): string {
  assertZone(zone);
  return formatDays(Math.floor(wallClockMs(zone, unixMs(unixSeconds)) / DAY_MS));
}

/** Local hour 0-23 of `instant` in `zone`. */
export function localHour(zone: string, instant: Date): number {
  assertZone(zone);
  const wall = wallClockMs(zone, instantMs(instant));
  return Math.floor((((wall % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000);
}

/** Tomorrow's date in `zone` as seen at `now`. */
export function nextLocalDay(zone: string, now: Date): string {
  return addDays(localDate(zone, now), 1);
}

/**
 * Reminders for tomorrow become due once the local hour today has reached `sendHour` (0-23).
 * `day` is the local day the run covers: tomorrow in the zone, except right after a gap that
 * swallowed the evening's send hour and midnight with it (then today). A sendHour that falls
 * in a DST gap (e.g. 02 on a spring-forward day) becomes due at the first instant after it.
 */
export function isDueToSend(zone: string, sendHour: number, now: Date): { due: boolean; day: string } {
  if (!Number.isInteger(sendHour) || sendHour < 0 || sendHour > 23) {
    throw new RangeError(`sendHour must be an integer 0-23, got ${String(sendHour).slice(0, 32)}`);
  }
  const today = localDate(zone, now);
  if (localHour(zone, now) >= sendHour) return { due: true, day: addDays(today, 1) };
  // Yesterday's send hour may have fallen in a gap that ran past midnight (America/Nuuk,
  // 2026-03-28: 22:59:59 → 00:00, so 23:00 never came): today's run was never due on its
  // eve, so it is due from the gap's end, today, rather than skipped.
  const yesterday = parseDay(today) - 1;
  const sent = firstInstantOfWall(zone, yesterday * DAY_MS + sendHour * 3_600_000);
  if (Math.floor(wallClockMs(zone, sent) / DAY_MS) > yesterday) return { due: true, day: today };
  return { due: false, day: addDays(today, 1) };
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const TOKEN_RE = /'([^']*)'|yyyy|MMMM|MMM|MM|M|dd|d|EEEE|EEE|HH|H|hh|h|mm|ss|a|zzz|xxx|VV/g;

/**
 * Formats a Unix-seconds instant in `zone`, independent of the host's own zone. English only.
 * Tokens: yyyy MMMM MMM MM M dd d EEEE EEE HH H hh h mm ss a (AM/PM) zzz (abbreviation, else
 * "GMT+5:45") xxx ("+05:45") VV (zone name); 'quoted' text is literal, '' (outside quotes) is a quote.
 */
export function formatLocal(zone: string, unixSeconds: number, pattern: string): string {
  assertZone(zone);
  const ms = unixMs(unixSeconds);
  const wall = wallClockMs(zone, ms);
  const days = Math.floor(wall / DAY_MS);
  const { year, month, day } = civilFromDays(days);
  const sinceMidnight = wall - days * DAY_MS;
  const hour = Math.floor(sinceMidnight / 3_600_000);
  const minute = Math.floor((sinceMidnight % 3_600_000) / 60_000);
  const second = Math.floor((sinceMidnight % 60_000) / 1000);
  const offset = wall - Math.floor(ms / 1000) * 1000;
  const p2 = (v: number): string => String(v).padStart(2, "0");
  return pattern.replace(TOKEN_RE, (token: string, literal: string | undefined) => {
    if (literal !== undefined) return literal === "" ? "'" : literal;
    switch (token) {
      case "yyyy":
        return String(year).padStart(4, "0");
      case "MMMM":
        return MONTHS[month - 1] ?? "";
      case "MMM":
        return (MONTHS[month - 1] ?? "").slice(0, 3);
      case "MM":
        return p2(month);
      case "M":
        return String(month);
      case "dd":
        return p2(day);
      case "d":
        return String(day);
      case "EEEE":
        return WEEKDAYS[weekdayOfDays(days)] ?? "";
      case "EEE":
        return (WEEKDAYS[weekdayOfDays(days)] ?? "").slice(0, 3);
      case "HH":
        return p2(hour);
      case "H":
        return String(hour);
      case "hh":
        return p2(hour % 12 || 12);
      case "h":
        return String(hour % 12 || 12);
      case "mm":
        return p2(minute);
      case "ss":
        return p2(second);
      case "a":
        return hour < 12 ? "AM" : "PM";
      case "zzz":
        return zoneAbbreviation(zone, ms) ?? gmtOffsetLabel(offset);
      case "xxx": {
        const abs = Math.round(Math.abs(offset) / 60_000);
        return `${offset < 0 ? "-" : "+"}${p2(Math.floor(abs / 60))}:${p2(abs % 60)}`;
      }
      case "VV":
        return zone;
      default:
        return token;
    }
  });
}
