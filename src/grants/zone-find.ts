import type { Event } from "nylas";
import type { Logger } from "../log/logger.js";
import type { AroundRequest, GrantInfo, NylasApi } from "../nylas/client.js";
import { classifyError, describeFailure } from "../nylas/errors.js";
import { calendarAccess, pickCalendar } from "./calendar.js";
import { inferZoneFromEvents, type InferredZone } from "./zone-infer.js";
import { normalizeZone, zoneSourceRank, type AutomaticZoneSource, type ZoneSource } from "./zone-source.js";

/** How far either side of now the events inference looks, and how much it reads at most. */
export const INFER_WINDOW_DAYS = 14;
export const INFER_MAX_PAGES = 2;
const INFER_PAGE = 200;

export interface ZoneSearch {
  /** The grant's source now; undefined for a grant not stored yet. */
  current?: ZoneSource;
  /** The browser's zone, from the connect page. */
  browserZone?: string;
  defaultZone: string;
  /** Runs each events read (the grant's read budget, where the caller has one). */
  readAround?: AroundRequest;
  now: Date;
}

export interface ZoneFinding {
  /** The calendar to read meetings from when it had to be picked from the list (iCloud). */
  calendarId?: string;
  /** The best zone found, or undefined when nothing can be said (a read failed: keep what is stored). */
  candidate?: { zone: string; source: AutomaticZoneSource };
  /** Nylas answered 401 for the grant's calendar. */
  unauthorized: boolean;
  /** The inference's evidence, when it ran and found a zone. */
  inferred?: InferredZone;
}

/**
 * The best automatic zone of a grant, asking Nylas only what can still make a difference:
 * its calendar's zone (`calendar`); else the browser's (`browser`, connect only); else, when
 * the grant holds nothing stronger, the zone of the events the user organises (`events`);
 * else DEFAULT_TIME_ZONE (`default`). IMAP grants have no calendar routes: none is called.
 * A calendar or events read that fails leaves a stored grant's zone as it is.
 */
export async function findGrantZone(nylas: NylasApi, log: Logger, g: GrantInfo, s: ZoneSearch): Promise<ZoneFinding> {
  const access = calendarAccess(g.provider);
  const canRead = g.status === "valid" && access !== "none";
  let calendarId: string | undefined;
  let raw: string | undefined;
  let readFailed = false;
  if (canRead) {
    try {
      if (access === "list") {
        const picked = pickCalendar(await nylas.calendars(g.id));
        if (picked) {
          calendarId = picked.id;
          raw = picked.timezone;
        } else log.warn({ grantId: g.id }, "the grant has no primary or owned, writable calendar");
      } else raw = await nylas.calendarZone(g.id, "primary");
    } catch (err) {
      const f = classifyError(err);
      if (f.kind === "auth") return { unauthorized: true };
      log.warn({ grantId: g.id }, `calendar time zone unavailable: ${describeFailure(f)}`);
      readFailed = true;
    }
  }
  const found = (candidate?: ZoneFinding["candidate"], inferred?: InferredZone): ZoneFinding => ({
    ...(calendarId !== undefined ? { calendarId } : {}),
    ...(candidate ? { candidate } : {}),
    ...(inferred ? { inferred } : {}),
    unauthorized: false,
  });

  if (raw !== undefined) {
    const zone = normalizeZone(raw);
    if (zone !== undefined) return found({ zone, source: "calendar" });
    log.warn({ grantId: g.id, zone: raw.slice(0, 64) }, "calendar has an unknown time zone");
  }
  const browser = normalizeZone(s.browserZone);
  if (browser !== undefined) return found({ zone: browser, source: "browser" });
  if (s.current !== undefined) {
    // The calendar could not be read: nothing is known for sure, so the stored zone stays.
    if (readFailed) return found();
    // Only weaker sources are left: none of them could replace what the grant holds.
    if (zoneSourceRank(s.current) > zoneSourceRank("events")) return found();
  }
  if (canRead && !readFailed && (access === "primary" || calendarId !== undefined)) {
    try {
      const inferred = await inferFromEvents(nylas, g, calendarId ?? "primary", s);
      if (inferred) return found({ zone: inferred.zone, source: "events" }, inferred);
    } catch (err) {
      const f = classifyError(err);
      if (f.kind === "auth") return { unauthorized: true };
      log.warn({ grantId: g.id }, `events unavailable for the zone inference: ${describeFailure(f)}`);
      if (s.current !== undefined) return found();
    }
  }
  return found({ zone: s.defaultZone, source: "default" });
}

/** Reads up to INFER_MAX_PAGES pages of the grant's events around now and infers its zone. */
async function inferFromEvents(
  nylas: NylasApi,
  g: GrantInfo,
  calendarId: string,
  s: ZoneSearch,
): Promise<InferredZone | undefined> {
  const now = Math.floor(s.now.getTime() / 1000);
  const span = INFER_WINDOW_DAYS * 86_400;
  const events: Event[] = [];
  let pages = 0;
  const query = { calendarId, start: now - span, end: now + span, limit: INFER_PAGE, expandRecurring: true };
  for await (const page of nylas.events(g.id, query, s.readAround)) {
    events.push(...page);
    if (++pages >= INFER_MAX_PAGES) break;
  }
  return inferZoneFromEvents(events, g.email);
}
