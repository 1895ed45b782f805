/**
 * Where a grant's time zone comes from, and which source may replace which. Pure.
 *
 * Strongest first: `override` (an operator, `npm run grants:zone`), `calendar` (the calendar's
 * `timezone`, which Nylas returns for Google and virtual calendars only), `browser` (the zone of
 * the browser that connected the account), `events` (inferred from the events the user
 * organises), `default` (DEFAULT_TIME_ZONE). Automatic sources never replace an override and
 * never replace a stronger source; a source as strong or stronger may change the zone (a
 * calendar whose zone changed, a second sign-in from another browser, a user who moved).
 */

import { displayZone, isValidZone } from "../time/zone.js";

export const ZONE_SOURCES = ["override", "calendar", "browser", "events", "default"] as const;
export type ZoneSource = (typeof ZONE_SOURCES)[number];
/** The sources a sync, webhook or sign-in can find by itself. */
export type AutomaticZoneSource = Exclude<ZoneSource, "override">;

export interface ZoneChoice {
  zone: string;
  source: ZoneSource;
}

/**
 * A zone as a grant may hold it, or undefined: an IANA name Node knows (at most 64 characters,
 * never a UTC offset such as "+05:30", which Intl also accepts), with its case fixed
 * ("asia/tokyo" → "Asia/Tokyo") so the same zone is always spelled the same.
 */
export function normalizeZone(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 64 || !isValidZone(value)) return undefined;
  return displayZone(value);
}

/** Higher is stronger. */
export function zoneSourceRank(source: ZoneSource): number {
  return ZONE_SOURCES.length - ZONE_SOURCES.indexOf(source);
}

export function isZoneSource(value: unknown): value is ZoneSource {
  return typeof value === "string" && (ZONE_SOURCES as readonly string[]).includes(value);
}

export type ZoneDecision =
  /** Write `to`; `zoneChanged` when the zone itself differs from the current one. */
  { write: true; to: ZoneChoice; zoneChanged: boolean } | { write: false; why: string };

/**
 * Whether `candidate` replaces the grant's `current` zone (undefined: a grant not stored yet).
 * An override comes only from an operator and always wins; an automatic candidate needs a
 * source at least as strong as the current one. Writing the same zone and source is no write.
 */
export function decideZone(current: ZoneChoice | undefined, candidate: ZoneChoice): ZoneDecision {
  if (current === undefined) return { write: true, to: candidate, zoneChanged: true };
  if (current.zone === candidate.zone && current.source === candidate.source) {
    return { write: false, why: "unchanged" };
  }
  if (candidate.source !== "override") {
    if (current.source === "override") return { write: false, why: "an operator's override stands" };
    if (zoneSourceRank(candidate.source) < zoneSourceRank(current.source)) {
      return { write: false, why: `a ${current.source} zone is not replaced by a weaker ${candidate.source} one` };
    }
  }
  return { write: true, to: candidate, zoneChanged: candidate.zone !== current.zone };
}

/**
 * An operator clears an override: the zone stays as it is, under the weakest source, so the
 * next sync or sign-in replaces it with the best source it finds (a browser zone comes back
 * only with the next sign-in). Nothing to clear on a grant without an override.
 */
export function clearOverride(current: ZoneChoice): ZoneDecision {
  if (current.source !== "override") return { write: false, why: `no override to clear (source ${current.source})` };
  return { write: true, to: { zone: current.zone, source: "default" }, zoneChanged: false };
}

/** How the source reads to the user (the connect page). */
export function describeZoneSource(source: ZoneSource): string {
  switch (source) {
    case "override":
      return "set by the operator";
    case "calendar":
      return "from your calendar";
    case "browser":
      return "from your browser";
    case "events":
      return "from the time zones of your events";
    case "default":
      return "the service's default zone";
  }
}

/** "Asia/Tokyo (calendar)": the zone with its source, for logs, tables and Bull Board. */
export function zoneWithSource(zone: string, source: ZoneSource | null | undefined): string {
  return source ? `${zone} (${source})` : zone;
}
