/**
 * The RRULE subset the sandbox expands: FREQ=DAILY|WEEKLY with INTERVAL, COUNT, UNTIL, BYDAY,
 * plus EXDATE. Occurrences are generated in local wall time of the event's zone, so a 09:00
 * meeting stays at 09:00 across DST changes (as providers do).
 */
import { addDays, parseYmd, weekday } from "./tz.js";

export interface Rule {
  freq: "DAILY" | "WEEKLY";
  interval: number;
  count?: number;
  untilMs?: number;
  /** Weekdays, 0 = Sunday. */
  byday?: number[];
  /** Excluded occurrence starts (epoch ms) and excluded local dates (YYYY-MM-DD). */
  exInstants: Set<number>;
  exDates: Set<string>;
}

const DAY_CODES: Record<string, number> = { SU: 0, MO: 1, TU: 2, WE: 3, TH: 4, FR: 5, SA: 6 };

function parseIcalDateTime(v: string): { ms?: number; ymd?: string } | undefined {
  const full = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (full) {
    const [, y, mo, d, h, mi, s] = full.map(Number) as number[];
    return { ms: Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) };
  }
  const date = /^(\d{4})(\d{2})(\d{2})$/.exec(v);
  if (date) return { ymd: `${date[1]}-${date[2]}-${date[3]}` };
  return undefined;
}

/** Parses `["RRULE:...", "EXDATE:..."]`; throws an Error with a readable message otherwise. */
export function parseRecurrence(lines: readonly string[]): Rule {
  let rule: Rule | undefined;
  const exInstants = new Set<number>();
  const exDates = new Set<string>();
  for (const line of lines) {
    if (typeof line !== "string") throw new Error("recurrence entries must be strings");
    if (line.startsWith("RRULE:")) {
      const parts = new Map<string, string>();
      for (const kv of line.slice(6).split(";")) {
        const [k, v] = kv.split("=");
        if (!k || v === undefined) throw new Error(`malformed RRULE part "${kv}"`);
        parts.set(k.toUpperCase(), v.toUpperCase());
      }
      const freq = parts.get("FREQ");
      if (freq !== "DAILY" && freq !== "WEEKLY") throw new Error(`unsupported FREQ ${freq ?? "(missing)"}`);
      const interval = parts.has("INTERVAL") ? Number(parts.get("INTERVAL")) : 1;
      if (!Number.isInteger(interval) || interval < 1) throw new Error("INTERVAL must be a positive integer");
      rule = { freq, interval, exInstants, exDates };
      if (parts.has("COUNT")) {
        const count = Number(parts.get("COUNT"));
        if (!Number.isInteger(count) || count < 1) throw new Error("COUNT must be a positive integer");
        rule.count = count;
      }
      if (parts.has("UNTIL")) {
        const u = parseIcalDateTime(parts.get("UNTIL")!);
        if (!u) throw new Error("UNTIL must be YYYYMMDD or YYYYMMDDTHHMMSSZ");
        rule.untilMs = u.ms ?? Date.UTC(...ymdTuple(u.ymd!), 23, 59, 59);
      }
      if (parts.has("BYDAY")) {
        rule.byday = parts
          .get("BYDAY")!
          .split(",")
          .map((c) => {
            const day = DAY_CODES[c];
            if (day === undefined) throw new Error(`unsupported BYDAY value ${c}`);
            return day;
          });
      }
      for (const k of parts.keys()) {
        if (!["FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "WKST"].includes(k))
          throw new Error(`unsupported RRULE part ${k}`);
      }
    } else if (line.startsWith("EXDATE")) {
      const values = line.slice(line.indexOf(":") + 1).split(",");
      for (const v of values) {
        const parsed = parseIcalDateTime(v.trim());
        if (!parsed) throw new Error(`malformed EXDATE value ${v}`);
        if (parsed.ms !== undefined) exInstants.add(parsed.ms);
        else exDates.add(parsed.ymd!);
      }
    } else {
      throw new Error(`unsupported recurrence line "${line.split(":")[0]}"`);
    }
  }
  if (!rule) throw new Error("recurrence needs an RRULE line");
  return rule;
}

function ymdTuple(ymd: string): [number, number, number] {
  const p = parseYmd(ymd)!;
  return [p.y, p.m - 1, p.d];
}

function daysBetween(a: string, b: string): number {
  return Math.round((Date.UTC(...ymdTuple(b)) - Date.UTC(...ymdTuple(a))) / 86_400_000);
}

/**
 * Local dates of the series' occurrences in order, starting at `firstYmd`. `skipToYmd` lets a
 * series without COUNT jump close to a query window instead of walking from its first day.
 * EXDATE and UNTIL are the caller's business (they need the instant).
 */
export function* occurrenceDates(rule: Rule, firstYmd: string, skipToYmd?: string): Generator<string> {
  const countable = rule.count === undefined;
  const MAX = 20_000; // a safety net against runaway series
  let emitted = 0;
  if (rule.freq === "DAILY") {
    let k = 0;
    if (countable && skipToYmd) {
      const gap = daysBetween(firstYmd, skipToYmd);
      if (gap > 0) k = Math.floor(gap / rule.interval);
    }
    for (; emitted < MAX; k++) {
      if (rule.count !== undefined && k >= rule.count) return;
      emitted++;
      yield addDays(firstYmd, k * rule.interval);
    }
    return;
  }
  const firstDow = weekday(firstYmd);
  const days = [...new Set(rule.byday ?? [firstDow])].sort((a, b) => ((a + 6) % 7) - ((b + 6) % 7));
  const weekStart = addDays(firstYmd, -((firstDow + 6) % 7)); // Monday of the first week
  let w = 0;
  if (countable && skipToYmd) {
    const gap = daysBetween(weekStart, skipToYmd);
    if (gap > 7) w = Math.floor((gap - 7) / 7 / rule.interval);
  }
  let n = 0;
  for (; emitted < MAX; w++) {
    const monday = addDays(weekStart, w * 7 * rule.interval);
    for (const dow of days) {
      const ymd = addDays(monday, (dow + 6) % 7);
      if (ymd < firstYmd) continue;
      if (rule.count !== undefined && n >= rule.count) return;
      n++;
      emitted++;
      yield ymd;
    }
  }
}
