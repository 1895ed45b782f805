import pLimit from "p-limit";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { AroundRequest, GrantInfo, NylasApi } from "../nylas/client.js";
import { clockNow } from "../time/clock.js";
import { followNylasStatus, initialGrantStatus, revokeDuplicateGrants } from "./status.js";
import { initialGrantZone, offerGrantZone } from "./zone.js";
import { findGrantZone } from "./zone-find.js";
import { zoneWithSource } from "./zone-source.js";

export interface SyncSettings {
  defaultTimeZone: string;
  defaultSendHour: number;
  pageSize?: number;
  /** Concurrent calendar look-ups. */
  concurrency?: number;
  /** Runs a grant's events reads (the zone inference) under its read budget, where there is one. */
  readAround?: (grantId: string) => AroundRequest;
}

export interface SyncResult {
  seen: number;
  created: number;
  updated: number;
  needsReauth: number;
  /** Grants created on DEFAULT_TIME_ZONE: nothing better was found. */
  zoneFallbacks: number;
  /** Stored grants whose zone changed. */
  zonesChanged: number;
  /** Older grants revoked because a newer valid grant has their address (one valid per address). */
  replaced: number;
  errors: number;
}

/** What only the caller knows about a grant: the connect page's browser zone. */
export interface GrantHints {
  browserZone?: string;
}

/**
 * Pages through the application's grants and upserts each: email, provider, status, the
 * calendar its meetings are in (iCloud has no `primary`) and its zone, the best its sources
 * give (src/grants/zone-find.ts) as the zone writer allows (src/grants/zone.ts). Operator
 * settings (send hour, on/off, a zone override) are never overwritten. Then each address
 * keeps one valid grant, its newest (src/grants/status.ts).
 */
export async function syncGrants(db: Db, nylas: NylasApi, log: Logger, settings: SyncSettings): Promise<SyncResult> {
  const result: SyncResult = {
    seen: 0,
    created: 0,
    updated: 0,
    needsReauth: 0,
    zoneFallbacks: 0,
    zonesChanged: 0,
    replaced: 0,
    errors: 0,
  };
  const pageSize = settings.pageSize ?? 100;
  const limit = pLimit(settings.concurrency ?? 8);
  for (let offset = 0; ; offset += pageSize) {
    const page = await nylas.grantsPage({ limit: pageSize, offset });
    result.seen += page.length;
    await Promise.all(page.map((g) => limit(() => upsertOne(db, nylas, log, g, settings, result))));
    if (page.length < pageSize) break;
  }
  // Once every grant is stored, so each address keeps the newest whatever the pages' order.
  try {
    result.replaced = await revokeDuplicateGrants(db, log);
  } catch (err) {
    result.errors++;
    log.error({ err }, "grant sync could not revoke replaced grants");
  }
  return result;
}

export async function upsertOne(
  db: Db,
  nylas: NylasApi,
  log: Logger,
  g: GrantInfo,
  settings: SyncSettings,
  result?: SyncResult,
  hints: GrantHints = {},
): Promise<void> {
  try {
    const existing = await db.grant.findUnique({
      where: { id: g.id },
      select: { status: true, timeZoneSource: true },
    });
    const now = clockNow();
    const found = await findGrantZone(nylas, log, g, {
      current: existing?.timeZoneSource,
      browserZone: hints.browserZone,
      defaultZone: settings.defaultTimeZone,
      readAround: settings.readAround?.(g.id),
      now,
    });
    if (found.unauthorized) g = { ...g, status: "invalid" };
    if (g.status === "invalid" && result) result.needsReauth++;
    const calendar = found.calendarId !== undefined ? { calendarId: found.calendarId } : {};
    if (!existing) {
      const zone = found.candidate ?? { zone: settings.defaultTimeZone, source: "default" as const };
      if (zone.source === "default" && g.status === "valid" && result) result.zoneFallbacks++;
      await db.grant.create({
        data: {
          id: g.id,
          email: g.email,
          provider: g.provider,
          ...calendar,
          ...initialGrantZone(zone),
          sendHour: settings.defaultSendHour,
          ...initialGrantStatus(g.status),
        },
      });
      log.info({ grantId: g.id, zone: zoneWithSource(zone.zone, zone.source) }, "grant stored");
      if (result) result.created++;
      return;
    }
    await db.grant.update({ where: { id: g.id }, data: { email: g.email, provider: g.provider, ...calendar } });
    if (found.candidate) {
      const w = await offerGrantZone(db, g.id, found.candidate, now);
      if (w.zoneChanged && w.before && w.after) {
        if (result) result.zonesChanged++;
        log.info(
          {
            grantId: g.id,
            from: zoneWithSource(w.before.zone, w.before.source),
            to: zoneWithSource(w.after.zone, w.after.source),
            reopened: w.reopened,
          },
          "grant time zone changed",
        );
      }
    }
    await followNylasStatus(db, g.id, existing.status, g.status);
    if (result) result.updated++;
  } catch (err) {
    if (result) result.errors++;
    log.error({ grantId: g.id, err }, "grant sync failed for one grant");
  }
}
