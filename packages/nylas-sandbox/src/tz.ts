/**
 * Time-zone arithmetic on plain epoch milliseconds, built on Intl only. The sandbox keeps its
 * own implementation (independent of the worker's window maths) so that tests comparing the
 * two catch mistakes on either side.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  return f;
}

export function isValidZone(zone: unknown): zone is string {
  if (typeof zone !== "string" || zone.length === 0) return false;
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

export interface LocalParts {
  y: number;
  m: number;
  d: number;
  hh: number;
  mm: number;
  ss: number;
}

export function localParts(zone: string, epochMs: number): LocalParts {
  const p: LocalParts = { y: 0, m: 0, d: 0, hh: 0, mm: 0, ss: 0 };
  for (const part of formatter(zone).formatToParts(epochMs)) {
    switch (part.type) {
      case "year":
        p.y = Number(part.value);
        break;
      case "month":
        p.m = Number(part.value);
        break;
      case "day":
        p.d = Number(part.value);
        break;
      case "hour":
        p.hh = Number(part.value);
        break;
      case "minute":
        p.mm = Number(part.value);
        break;
      case "second":
        p.ss = Number(part.value);
        break;
    }
  }
  return p;
}

// Offsets only change on quarter-hour boundaries in practice, so cache per 15-minute slot;
// seeding 10k grants converts hundreds of thousands of wall times.
const offsetCache = new Map<string, number>();
const SLOT = 15 * 60_000;

/** UTC offset of `zone` at the instant, in ms (local = utc + offset). */
export function offsetMs(zone: string, epochMs: number): number {
  const slot = Math.floor(epochMs / SLOT);
  const key = zone + "|" + slot;
  const hit = offsetCache.get(key);
  if (hit !== undefined) return hit;
  const t = slot * SLOT;
  const p = localParts(zone, t);
  const off = Date.UTC(p.y, p.m - 1, p.d, p.hh, p.mm, p.ss) - t;
  if (offsetCache.size > 200_000) offsetCache.clear();
  offsetCache.set(key, off);
  return off;
}

/**
 * Epoch ms of a local wall time. Ambiguous times (autumn overlap) resolve to the earlier
 * instant; non-existent times (spring gap) move forward by the gap, like Temporal's
 * "compatible" disambiguation.
 */
export function localToEpochMs(zone: string, y: number, m: number, d: number, hh = 0, mm = 0, ss = 0): number {
  const wall = Date.UTC(y, m - 1, d, hh, mm, ss);
  const before = offsetMs(zone, wall - 86_400_000);
  const after = offsetMs(zone, wall + 86_400_000);
  const tBefore = wall - before;
  const tAfter = wall - after;
  const okBefore = offsetMs(zone, tBefore) === before;
  const okAfter = offsetMs(zone, tAfter) === after;
  if (okBefore && okAfter) return Math.min(tBefore, tAfter);
  if (okBefore) return tBefore;
  if (okAfter) return tAfter;
  return tBefore;
}

/** YYYY-MM-DD helpers (pure calendar arithmetic, no zone). */
export function parseYmd(ymd: string): { y: number; m: number; d: number } | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd);
  if (!match) return undefined;
  const y = Number(match[1]);
  const m = Number(match[2]);
  const d = Number(match[3]);
  const check = new Date(Date.UTC(y, m - 1, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) return undefined;
  return { y, m, d };
}

export function formatYmd(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

export function addDays(ymd: string, days: number): string {
  const p = parseYmd(ymd);
  if (!p) throw new Error(`bad date ${ymd}`);
  const t = new Date(Date.UTC(p.y, p.m - 1, p.d + days));
  return formatYmd(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(ymd: string): number {
  const p = parseYmd(ymd);
  if (!p) throw new Error(`bad date ${ymd}`);
  return new Date(Date.UTC(p.y, p.m - 1, p.d)).getUTCDay();
}

export function localDate(zone: string, epochMs: number): string {
  const p = localParts(zone, epochMs);
  return formatYmd(p.y, p.m, p.d);
}

/** First instant of the local day (local midnight, or the first instant after a midnight gap). */
export function startOfLocalDay(zone: string, ymd: string): number {
  const p = parseYmd(ymd);
  if (!p) throw new Error(`bad date ${ymd}`);
  return localToEpochMs(zone, p.y, p.m, p.d, 0, 0, 0);
}

/** Wall time of a local date plus clock time (hours and minutes). */
export function localDateTime(zone: string, ymd: string, hh: number, mm: number): number {
  const p = parseYmd(ymd);
  if (!p) throw new Error(`bad date ${ymd}`);
  return localToEpochMs(zone, p.y, p.m, p.d, hh, mm, 0);
}
