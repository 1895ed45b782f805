import type { Db } from "../db/client.js";
import { GRANTS_BY_EMAIL } from "./sql.js";
import type { ZoneSource } from "./zone-source.js";
import { clearGrantZoneOverride, overrideGrantZone } from "./zone.js";
import type { ReminderPolicy as Policy } from "../reminders/policy.js";
import type { SettingsPatch, StoredSettings } from "./settings.js";

/**
 * The only writer of a grant's settings columns (send_hour, enabled, policy, locale,
 * calendar_id); the zone part of a patch goes through the zone writer (src/grants/zone.ts),
 * which sets or clears the override and reopens the days a move reaches. The zone is written
 * first, then the other columns: each write is whole, and applying the same patch again is
 * harmless, so a patch cut off between the two is finished by sending it again.
 */

const SELECT = {
  id: true,
  email: true,
  provider: true,
  status: true,
  sendHour: true,
  enabled: true,
  policy: true,
  locale: true,
  calendarId: true,
  timeZone: true,
  timeZoneSource: true,
} as const;

export async function readGrantSettings(db: Db, grantId: string): Promise<StoredSettings | undefined> {
  const row = await db.grant.findUnique({ where: { id: grantId }, select: SELECT });
  return row
    ? { ...row, policy: row.policy as Policy | null, timeZoneSource: row.timeZoneSource as ZoneSource }
    : undefined;
}

/** Grants with this address (case aside), at most `limit`. */
export async function findGrantsByEmail(
  db: Db,
  email: string,
  limit = 20,
): Promise<{ id: string; email: string; provider: string; status: string }[]> {
  return db.$queryRawUnsafe(GRANTS_BY_EMAIL, email, limit);
}

export interface SettingsWrite {
  /** The grant is not in the database: nothing was written. */
  missing?: true;
  /** Days run again because the zone moved (see src/grants/zone.ts). */
  reopened: string[];
}

/** Applies a checked patch (src/grants/settings.ts) to a grant. */
export async function applyGrantSettings(
  db: Db,
  grantId: string,
  patch: SettingsPatch,
  now?: Date,
): Promise<SettingsWrite> {
  const exists = await db.grant.findUnique({ where: { id: grantId }, select: { id: true } });
  if (!exists) return { missing: true, reopened: [] };
  let reopened: string[] = [];
  if (patch.timeZone !== undefined) {
    const w =
      patch.timeZone === null
        ? await clearGrantZoneOverride(db, grantId, now)
        : await overrideGrantZone(db, grantId, patch.timeZone, now);
    if (!w.before) return { missing: true, reopened: [] };
    reopened = w.reopened;
  }
  const { timeZone: _zone, ...columns } = patch;
  void _zone;
  if (Object.keys(columns).length > 0) {
    // A grant deleted since the check: updateMany writes nothing instead of throwing.
    const { count } = await db.grant.updateMany({ where: { id: grantId }, data: columns });
    if (count === 0) return { missing: true, reopened };
  }
  return { reopened };
}
