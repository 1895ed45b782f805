/**
 * Zone lookups through Intl directly. date-fns-tz is deliberately not used for instant→offset:
 * its getTimezoneOffset(zone, date) reads the Date as a *wall time* (so it answers -4 for
 * 2026-03-08T06:30Z in America/New_York, really 01:30 EST), and formatInTimeZone goes through
 * the host zone's local fields (wrong output when the host zone has a DST gap at that wall time).
 */
import { DAY_MS, daysFromCivil } from "./calendar.js";
import { InvalidInstantError, InvalidZoneError } from "./errors.js";

const formatters = new Map<string, Intl.DateTimeFormat>();
const OFFSET_ZONE = /^\s*[-+\u2212]/;

function formatterFor(zone: unknown): Intl.DateTimeFormat {
  if (typeof zone !== "string" || zone.trim() === "" || zone.length > 100) throw new InvalidZoneError(zone);
  // Node 22+ also accepts UTC offsets ("+05:30") as zones; a grant's zone is an IANA name.
  if (OFFSET_ZONE.test(zone)) throw new InvalidZoneError(zone);
  const cached = formatters.get(zone);
  if (cached) return cached;
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    throw new InvalidZoneError(zone);
  }
  formatters.set(zone, f);
  return f;
}

/** Throws InvalidZoneError unless `zone` is a time zone this runtime knows; returns it. */
export function assertZone(zone: unknown): string {
  formatterFor(zone);
  return zone as string;
}

export function isValidZone(zone: unknown): boolean {
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

let namesByLowerCase: Map<string, string> | undefined;

/**
 * The zone name to show people: as given, with its case fixed when it is a case variant of a
 * listed name ("europe/berlin" → "Europe/Berlin"). Deliberately not Intl's resolvedOptions():
 * ICU canonicalises to legacy names ("Asia/Kolkata" → "Asia/Calcutta").
 */
export function displayZone(zone: string): string {
  assertZone(zone);
  namesByLowerCase ??= new Map(Intl.supportedValuesOf("timeZone").map((z) => [z.toLowerCase(), z]));
  return namesByLowerCase.get(zone.toLowerCase()) ?? zone;
}

export function assertEpochMs(ms: unknown): number {
  if (typeof ms !== "number" || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw new InvalidInstantError(ms);
  return ms;
}

/**
 * The zone's wall clock at the instant, expressed as milliseconds of a UTC calendar
 * ("wall-clock-as-UTC"), truncated to the second.
 */
export function wallClockMs(zone: string, epochMs: number): number {
  const whole = Math.floor(assertEpochMs(epochMs) / 1000) * 1000;
  const offset = steadyOffset(zone, whole);
  return offset === undefined ? formatWallClock(zone, whole) : whole + offset;
}

const HOUR_MS = 3_600_000;
/** Offsets of (zone, UTC hour) with no transition inside it; bounded, cleared when full. */
const steadyOffsets = new Map<string, number | null>();
const STEADY_CACHE_MAX = 50_000;

/**
 * The zone's offset for the whole UTC hour around the instant, when it is the same at the
 * hour's first and last second (no transition inside: zones change offset at most once in
 * an hour), else undefined. Reading Intl is the costly part of every zone lookup; a night's
 * reminders touch few (zone, hour) pairs.
 */
function steadyOffset(zone: string, whole: number): number | undefined {
  const hour = Math.floor(whole / HOUR_MS);
  const key = `${zone}|${hour}`;
  let cached = steadyOffsets.get(key);
  if (cached === undefined) {
    const first = hour * HOUR_MS;
    const last = first + HOUR_MS - 1000;
    const a = formatWallClock(zone, first) - first;
    const b = formatWallClock(zone, last) - last;
    cached = a === b ? a : null;
    if (steadyOffsets.size >= STEADY_CACHE_MAX) steadyOffsets.clear();
    steadyOffsets.set(key, cached);
  }
  return cached ?? undefined;
}

function formatWallClock(zone: string, whole: number): number {
  const f = formatterFor(zone);
  let year = 0;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let bc = false;
  for (const part of f.formatToParts(whole)) {
    switch (part.type) {
      case "year":
        year = Number(part.value);
        break;
      case "month":
        month = Number(part.value);
        break;
      case "day":
        day = Number(part.value);
        break;
      case "hour":
        hour = Number(part.value) % 24;
        break;
      case "minute":
        minute = Number(part.value);
        break;
      case "second":
        second = Number(part.value);
        break;
      case "era":
        bc = part.value.startsWith("B");
        break;
      default:
        break;
    }
  }
  if (bc) year = 1 - year;
  return daysFromCivil(year, month, day) * DAY_MS + hour * 3_600_000 + minute * 60_000 + second * 1000;
}

/** UTC offset in milliseconds (local − UTC) in force at the instant. */
export function offsetMs(zone: string, epochMs: number): number {
  return wallClockMs(zone, epochMs) - Math.floor(epochMs / 1000) * 1000;
}

const ABBREVIATION_LOCALES = ["en-US", "en-GB", "en-AU", "en-IN", "en-NZ", "en-CA"];
const abbreviationFormatters = new Map<string, Intl.DateTimeFormat[]>();

/**
 * A short alphabetic zone abbreviation ("CET", "EDT", "IST", "AEDT", "UTC") when CLDR has one
 * in a common English locale, otherwise undefined (the caller shows the offset or zone name).
 */
export function zoneAbbreviation(zone: string, epochMs: number): string | undefined {
  // Within an hour of steady offset the abbreviation is steady too: cache it by that hour.
  const whole = Math.floor(assertEpochMs(epochMs) / 1000) * 1000;
  const key = steadyOffset(zone, whole) === undefined ? undefined : `${zone}|${Math.floor(whole / HOUR_MS)}`;
  if (key !== undefined && abbreviations.has(key)) return abbreviations.get(key);
  const name = formatAbbreviation(zone, epochMs);
  if (key !== undefined) {
    if (abbreviations.size >= STEADY_CACHE_MAX) abbreviations.clear();
    abbreviations.set(key, name);
  }
  return name;
}

const abbreviations = new Map<string, string | undefined>();

function formatAbbreviation(zone: string, epochMs: number): string | undefined {
  formatterFor(zone);
  let list = abbreviationFormatters.get(zone);
  if (!list) {
    list = ABBREVIATION_LOCALES.map((l) => new Intl.DateTimeFormat(l, { timeZone: zone, timeZoneName: "short" }));
    abbreviationFormatters.set(zone, list);
  }
  for (const f of list) {
    const name = f.formatToParts(epochMs).find((p) => p.type === "timeZoneName")?.value;
    if (name && /^[A-Z]{2,6}$/.test(name)) return name;
  }
  return undefined;
}

/** "GMT+5:45", "GMT-3", "GMT" for an offset in ms. */
export function gmtOffsetLabel(offset: number): string {
  if (offset === 0) return "GMT";
  const sign = offset < 0 ? "-" : "+";
  const totalMin = Math.round(Math.abs(offset) / 60_000);
  const h = Math.floor(totalMin / 60);
  const m = totalMin % 60;
  return `GMT${sign}${h}${m ? `:${String(m).padStart(2, "0")}` : ""}`;
}
