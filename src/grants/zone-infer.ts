/**
 * A grant's zone inferred from its events, for grants whose calendar reports none (every
 * provider but Google). Pure: events in, a zone or nothing out.
 *
 * Evidence is the start zone of each timed event the user organises (organizer email = the
 * grant's email, case-insensitively): Nylas reports `when.start_timezone` (or `timezone` for a
 * point in time) in the zone the organiser's client created the event in, which is the user's
 * own zone far more often than any guest's. Events organised by others say where *they* are,
 * all-day events carry no zone, cancelled ones are left out, and an event seen twice (pages
 * that overlap) counts once. The zone with the most events wins; a tie goes to the zone whose
 * name sorts first, so the same events always give the same zone.
 */
import { normalizeZone } from "./zone-source.js";

export interface InferredZone {
  zone: string;
  /** Organised timed events in that zone. */
  votes: number;
  /** Organised timed events with a usable zone, all zones together. */
  of: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The start zone of a timed event (SDK camelCase shape), raw; undefined for all-day ones. */
function startZone(when: unknown): unknown {
  if (!isRecord(when)) return undefined;
  const kind = typeof when.object === "string" ? when.object : "startTime" in when ? "timespan" : "time";
  if (kind === "timespan") return when.startTimezone;
  if (kind === "time") return when.timezone;
  return undefined;
}

function startOf(when: unknown): unknown {
  return isRecord(when) ? (when.startTime ?? when.time) : undefined;
}

export function inferZoneFromEvents(events: readonly unknown[], grantEmail: string): InferredZone | undefined {
  const user = grantEmail.trim().toLowerCase();
  if (user === "") return undefined;
  const votes = new Map<string, number>();
  const seen = new Set<string>();
  let of = 0;
  for (const ev of events) {
    if (!isRecord(ev) || ev.status === "cancelled") continue;
    const organizer = ev.organizer;
    if (!isRecord(organizer) || typeof organizer.email !== "string") continue;
    if (organizer.email.trim().toLowerCase() !== user) continue;
    const zone = normalizeZone(startZone(ev.when));
    if (zone === undefined) continue;
    const key = `${String(ev.id)}|${String(startOf(ev.when))}`;
    if (seen.has(key)) continue;
    seen.add(key);
    votes.set(zone, (votes.get(zone) ?? 0) + 1);
    of++;
  }
  let best: InferredZone | undefined;
  for (const [zone, n] of votes) {
    if (best === undefined || n > best.votes || (n === best.votes && zone < best.zone)) best = { zone, votes: n, of };
  }
  return best;
}
