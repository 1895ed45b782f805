/**
 * Pure proleptic-Gregorian calendar arithmetic on YYYY-MM-DD strings. No Date objects, so
 * nothing here depends on the host's time zone or on Date.UTC's two-digit-year quirk.
 */
import { InvalidDayError } from "./errors.js";

export interface CivilDate {
  year: number;
  month: number; // 1-12
  day: number; // 1-31
}

export const DAY_MS = 86_400_000;
const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MIN_DAYS = daysFromCivil(1, 1, 1);
const MAX_DAYS = daysFromCivil(9999, 12, 31);

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 of a civil date (negative before). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12; // March = 0
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Inverse of {@link daysFromCivil}. */
export function civilFromDays(days: number): CivilDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

/** Weekday of a day number: 0 = Sunday … 6 = Saturday. */
export function weekdayOfDays(days: number): number {
  return (((days + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
}

/** Parses YYYY-MM-DD into a day number; throws InvalidDayError for anything else. */
export function parseDay(day: unknown): number {
  if (typeof day !== "string") throw new InvalidDayError(day, "expected a string YYYY-MM-DD");
  const m = DAY_RE.exec(day);
  if (!m) throw new InvalidDayError(day, "expected YYYY-MM-DD");
  const year = Number(m[1]);
  const month = Number(m[2]);
  const dom = Number(m[3]);
  if (year < 1) throw new InvalidDayError(day, "year out of range");
  if (month < 1 || month > 12) throw new InvalidDayError(day, "no such month");
  if (dom < 1 || dom > daysInMonth(year, month)) throw new InvalidDayError(day, "no such day in that month");
  return daysFromCivil(year, month, dom);
}

export function formatDays(days: number): string {
  if (!Number.isSafeInteger(days) || days < MIN_DAYS || days > MAX_DAYS) {
    throw new InvalidDayError(days, "outside years 0001-9999");
  }
  const { year, month, day } = civilFromDays(days);
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** Pure calendar arithmetic: addDays("2026-12-31", 1) === "2027-01-01". */
export function addDays(day: string, n: number): string {
  if (!Number.isSafeInteger(n)) throw new InvalidDayError(n, "day offset must be an integer");
  return formatDays(parseDay(day) + n);
}
