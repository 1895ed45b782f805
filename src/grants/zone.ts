import type { Db, ZoneSource as DbZoneSource } from "../db/client.js";
import { RunStore } from "../runs/store.js";
import { clockNow } from "../time/clock.js";
import { LOCK_GRANT_ZONE } from "./sql.js";
import {
  clearOverride,
  decideZone,
  normalizeZone,
  type AutomaticZoneSource,
  type ZoneChoice,
  type ZoneDecision,
  type ZoneSource,
} from "./zone-source.js";

/**
 * The only writer of a grant's zone and its source (`grants.time_zone`, `time_zone_source`):
 * the grants sync, webhooks, the connect flow and the operator's `grants:zone` all go through
 * here, so the precedence rule (src/grants/zone-source.ts) holds whoever writes. A write that
 * changes the zone also reopens, in the same transaction, the completed days the new zone's
 * day reaches past (src/runs/coverage.ts), so a move leaves no gap in the grant's reminders.
 */

// The sources here and the schema's enum are the same five names.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const SOURCES_MATCH_SCHEMA: Same<ZoneSource, DbZoneSource> = true;
void SOURCES_MATCH_SCHEMA;

export interface ZoneWrite {
  /** The grant's zone before; undefined when the grant is not in the database. */
  before?: ZoneChoice;
  /** The grant's zone now (as before when nothing was written). */
  after?: ZoneChoice;
  written: boolean;
  zoneChanged: boolean;
  /** Days reopened by the change. */
  reopened: string[];
  /** Why nothing was written. */
  why?: string;
}

/** The zone columns of a grant being created (its first zone needs no precedence). */
export function initialGrantZone(candidate: ZoneChoice): { timeZone: string; timeZoneSource: ZoneSource } {
  return { timeZone: checkedZone(candidate.zone), timeZoneSource: candidate.source };
}

/** A sync, webhook or sign-in offers the best zone it found; precedence decides. */
export function offerGrantZone(
  db: Db,
  grantId: string,
  candidate: { zone: string; source: AutomaticZoneSource },
  now: Date = clockNow(),
): Promise<ZoneWrite> {
  const offer = { zone: checkedZone(candidate.zone), source: candidate.source };
  return writeZone(db, grantId, (current) => decideZone(current, offer), now);
}

/** An operator sets the zone: it stands until the operator clears it. */
export function overrideGrantZone(db: Db, grantId: string, zone: string, now: Date = clockNow()): Promise<ZoneWrite> {
  const offer: ZoneChoice = { zone: checkedZone(zone), source: "override" };
  return writeZone(db, grantId, (current) => decideZone(current, offer), now);
}

/**
 * An operator clears the override: the zone stays, under the weakest source, until the next
 * sync or sign-in finds the best automatic one.
 */
export function clearGrantZoneOverride(db: Db, grantId: string, now: Date = clockNow()): Promise<ZoneWrite> {
  return writeZone(db, grantId, clearOverride, now);
}

function checkedZone(zone: string): string {
  const normal = normalizeZone(zone);
  if (normal === undefined) throw new RangeError(`not an IANA time zone: ${String(zone).slice(0, 64)}`);
  return normal;
}

async function writeZone(
  db: Db,
  grantId: string,
  decide: (current: ZoneChoice) => ZoneDecision,
  now: Date,
): Promise<ZoneWrite> {
  return db.$transaction(async (tx) => {
    const [row] = await tx.$queryRawUnsafe<{ zone: string; source: ZoneSource }[]>(LOCK_GRANT_ZONE, grantId);
    if (!row) return { written: false, zoneChanged: false, reopened: [], why: "grant not in the database" };
    const before: ZoneChoice = { zone: row.zone, source: row.source };
    const d = decide(before);
    if (!d.write) return { before, after: before, written: false, zoneChanged: false, reopened: [], why: d.why };
    await tx.grant.update({ where: { id: grantId }, data: { timeZone: d.to.zone, timeZoneSource: d.to.source } });
    const reopened = d.zoneChanged ? await new RunStore(tx).reopenForZone(grantId, d.to.zone, now) : [];
    return { before, after: d.to, written: true, zoneChanged: d.zoneChanged, reopened };
  });
}
