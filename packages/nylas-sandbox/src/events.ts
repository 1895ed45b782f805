/**
 * Events: the time range of every `when` shape, the per-calendar index (sorted by start, id),
 * overlap queries with keyset paging, and recurring expansion. Per-request work is
 * O(log n + page), never a scan of the whole calendar.
 */
import { parseRecurrence, occurrenceDates, type Rule } from "./rrule.js";
import { addDays, localDate, localParts, localToEpochMs, parseYmd, startOfLocalDay } from "./tz.js";
import type { EventRecord, When, WireEvent } from "./types.js";

export interface IndexedEvent extends EventRecord {
  /** Parsed RRULE for masters (cached so queries never re-parse). */
  rule?: Rule;
  /** End of the whole series in epoch seconds (Infinity when open-ended). */
  seriesEnd?: number;
}

export class CalendarIndex {
  /** Non-recurring events, sorted by (s, id). */
  readonly singles: IndexedEvent[] = [];
  /** Recurring masters; few per calendar, expanded per query. */
  readonly masters: IndexedEvent[] = [];
  readonly byId = new Map<string, IndexedEvent>();
  /** Longest single event, so an overlap query knows how far before `start` to look. */
  maxDur = 0;

  constructor(
    readonly id: string,
    /** The zone all-day shapes are read in (calendar zone, or UTC when it has none). */
    public zone: string,
  ) {}

  insert(rec: IndexedEvent): void {
    this.byId.set(rec.ev.id, rec);
    if (rec.ev.recurrence && rec.ev.recurrence.length > 0) {
      rec.rule = parseRecurrence(rec.ev.recurrence);
      rec.seriesEnd = seriesEnd(rec, this.zone);
      this.masters.push(rec);
      return;
    }
    this.maxDur = Math.max(this.maxDur, rec.e - rec.s);
    const i = upperBound(this.singles, rec.s, rec.ev.id);
    this.singles.splice(i, 0, rec);
  }

  /** Appends without keeping order; call `sortSingles()` once afterwards (bulk seeding). */
  appendUnsorted(rec: IndexedEvent): void {
    this.byId.set(rec.ev.id, rec);
    this.maxDur = Math.max(this.maxDur, rec.e - rec.s);
    this.singles.push(rec);
  }

  sortSingles(): void {
    this.singles.sort((a, b) => a.s - b.s || (a.ev.id < b.ev.id ? -1 : a.ev.id > b.ev.id ? 1 : 0));
  }

  remove(id: string): IndexedEvent | undefined {
    const rec = this.byId.get(id);
    if (!rec) return undefined;
    this.byId.delete(id);
    if (rec.rule) {
      this.masters.splice(this.masters.indexOf(rec), 1);
    } else {
      const i = lowerBound(this.singles, rec.s, id);
      if (this.singles[i] === rec) this.singles.splice(i, 1);
      else this.singles.splice(this.singles.indexOf(rec), 1);
    }
    return rec;
  }

  get size(): number {
    return this.byId.size;
  }
}

function cmpKey(s1: number, id1: string, s2: number, id2: string): number {
  return s1 - s2 || (id1 < id2 ? -1 : id1 > id2 ? 1 : 0);
}

/** First index whose key is >= (s, id). */
function lowerBound(arr: IndexedEvent[], s: number, id: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = arr[mid]!;
    if (cmpKey(r.s, r.ev.id, s, id) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose key is > (s, id). */
function upperBound(arr: IndexedEvent[], s: number, id: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = arr[mid]!;
    if (cmpKey(r.s, r.ev.id, s, id) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** [start, end) of an event in epoch seconds; all-day shapes are local midnights of `zone`.
 *  A datespan's end_date is the last day of the event (inclusive). */
export function whenRange(when: When, zone: string): { s: number; e: number } {
  switch (when.object) {
    case "time":
      return { s: when.time, e: when.time };
    case "timespan":
      return { s: when.start_time, e: when.end_time };
    case "date":
      return { s: startOfLocalDay(zone, when.date) / 1000, e: startOfLocalDay(zone, addDays(when.date, 1)) / 1000 };
    case "datespan":
      return {
        s: startOfLocalDay(zone, when.start_date) / 1000,
        e: startOfLocalDay(zone, addDays(when.end_date, 1)) / 1000,
      };
  }
}

export function isAllDay(when: When): boolean {
  return when.object === "date" || when.object === "datespan";
}

/** Nylas semantics: an event is returned when it overlaps [ws, we); a zero-length `time`
 *  event counts when it lies inside the window. */
export function overlaps(s: number, e: number, ws: number, we: number): boolean {
  return s < we && (e > ws || (s === e && s >= ws));
}

interface Occurrence {
  s: number;
  e: number;
  ev: WireEvent;
  master: IndexedEvent;
}

function stampUtc(sec: number): string {
  return new Date(sec * 1000)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
}

/**
 * The master's occurrences that overlap [ws, we), in start order. Timed series repeat at the
 * same local wall time in their start zone; all-day series repeat on local dates.
 */
export function expandMaster(master: IndexedEvent, zone: string, ws: number, we: number): Occurrence[] {
  const rule = master.rule!;
  const w = master.ev.when;
  const out: Occurrence[] = [];
  const timed = w.object === "time" || w.object === "timespan";
  const tz = timed ? (w.object === "timespan" ? w.start_timezone : w.timezone) || zone : zone;
  const dur = master.e - master.s;
  const first = localParts(tz, master.s * 1000);
  const firstYmd = timed
    ? `${String(first.y).padStart(4, "0")}-${String(first.m).padStart(2, "0")}-${String(first.d).padStart(2, "0")}`
    : w.object === "date"
      ? w.date
      : (w as { start_date: string }).start_date;
  const lenDays = w.object === "datespan" ? daysBetweenYmd(w.start_date, w.end_date) + 1 : 1;
  const skipTo = addDays(localDate(tz, (ws - dur) * 1000), -2);
  for (const ymd of occurrenceDates(rule, firstYmd, skipTo)) {
    const p = parseYmd(ymd)!;
    const startMs = timed
      ? localToEpochMs(tz, p.y, p.m, p.d, first.hh, first.mm, first.ss)
      : startOfLocalDay(zone, ymd);
    if (rule.untilMs !== undefined && startMs > rule.untilMs) break;
    const os = Math.floor(startMs / 1000);
    if (os >= we) break;
    if (rule.exInstants.has(startMs) || rule.exDates.has(ymd)) continue;
    const oe = timed ? os + dur : startOfLocalDay(zone, addDays(ymd, lenDays)) / 1000;
    if (!overlaps(os, oe, ws, we)) continue;
    out.push({ s: os, e: oe, ev: occurrenceOf(master.ev, ymd, os, oe, lenDays), master });
  }
  return out;
}

function daysBetweenYmd(a: string, b: string): number {
  const pa = parseYmd(a)!;
  const pb = parseYmd(b)!;
  return Math.round((Date.UTC(pb.y, pb.m - 1, pb.d) - Date.UTC(pa.y, pa.m - 1, pa.d)) / 86_400_000);
}

function occurrenceOf(master: WireEvent, ymd: string, os: number, oe: number, lenDays: number): WireEvent {
  const w = master.when;
  let when: When;
  let id: string;
  switch (w.object) {
    case "timespan":
      when = { ...w, start_time: os, end_time: oe };
      id = `${master.id}_${stampUtc(os)}`;
      break;
    case "time":
      when = { ...w, time: os };
      id = `${master.id}_${stampUtc(os)}`;
      break;
    case "date":
      when = { object: "date", date: ymd };
      id = `${master.id}_${ymd.replace(/-/g, "")}`;
      break;
    case "datespan":
      when = { object: "datespan", start_date: ymd, end_date: addDays(ymd, lenDays - 1) };
      id = `${master.id}_${ymd.replace(/-/g, "")}`;
      break;
  }
  const { recurrence: _r, ...rest } = master;
  return { ...rest, id, when, master_event_id: master.id };
}

function seriesEnd(rec: IndexedEvent, zone: string): number {
  const rule = rec.rule!;
  if (rule.count === undefined && rule.untilMs === undefined) return Infinity;
  // Bounded series: walk to the last occurrence (COUNT is small; UNTIL is capped by the generator).
  const all = expandMaster(
    rec,
    zone,
    rec.s - 1,
    rule.untilMs !== undefined ? rule.untilMs / 1000 + 86_400 * 2 : Number.MAX_SAFE_INTEGER,
  );
  const last = all[all.length - 1];
  return last ? last.e : rec.e;
}

export interface EventQuery {
  ws: number;
  we: number;
  limit: number;
  after?: { s: number; id: string };
  expand: boolean;
  showCancelled: boolean;
}

export interface QueryItem {
  s: number;
  e: number;
  ev: WireEvent;
  rec: IndexedEvent;
}

/** One page of events overlapping the window, ordered by (start, id), after the cursor. */
export function queryEvents(
  cal: CalendarIndex,
  q: EventQuery,
): { items: QueryItem[]; next?: { s: number; id: string } } {
  const want = q.limit + 1;
  const picked: QueryItem[] = [];
  const arr = cal.singles;
  let i = q.after ? upperBound(arr, q.after.s, q.after.id) : lowerBound(arr, q.ws - cal.maxDur, "");
  for (; i < arr.length && picked.length < want; i++) {
    const r = arr[i]!;
    if (r.s >= q.we) break;
    if (!overlaps(r.s, r.e, q.ws, q.we)) continue;
    if (!q.showCancelled && r.ev.status === "cancelled") continue;
    picked.push({ s: r.s, e: r.e, ev: r.ev, rec: r });
  }
  for (const m of cal.masters) {
    if (!q.showCancelled && m.ev.status === "cancelled") continue;
    if (q.expand) {
      for (const o of expandMaster(m, cal.zone, q.ws, q.we)) {
        if (q.after && cmpKey(o.s, o.ev.id, q.after.s, q.after.id) <= 0) continue;
        picked.push({ s: o.s, e: o.e, ev: o.ev, rec: m });
      }
    } else {
      if (!(m.s < q.we && (m.seriesEnd ?? Infinity) > q.ws)) continue;
      if (q.after && cmpKey(m.s, m.ev.id, q.after.s, q.after.id) <= 0) continue;
      picked.push({ s: m.s, e: m.e, ev: m.ev, rec: m });
    }
  }
  if (cal.masters.length > 0) picked.sort((a, b) => cmpKey(a.s, a.ev.id, b.s, b.ev.id));
  if (picked.length <= q.limit) return { items: picked };
  const items = picked.slice(0, q.limit);
  const last = items[items.length - 1]!;
  return { items, next: { s: last.s, id: last.ev.id } };
}

/** Opaque cursor carrying the last returned position and the window it belongs to. */
export function encodeCursor(pos: { s: number; id: string }, ws: number, we: number): string {
  return Buffer.from(JSON.stringify([pos.s, pos.id, ws, we])).toString("base64url");
}

export function decodeCursor(token: string): { s: number; id: string; ws: number; we: number } | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (!Array.isArray(v) || v.length !== 4) return undefined;
    const [s, id, ws, we] = v as unknown[];
    if (typeof s !== "number" || typeof id !== "string" || typeof ws !== "number" || typeof we !== "number")
      return undefined;
    return { s, id, ws, we };
  } catch {
    return undefined;
  }
}
