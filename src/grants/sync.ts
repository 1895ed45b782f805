import pLimit from "p-limit";
import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { GrantInfo, NylasApi } from "../nylas/client.js";
import { classifyError, describeFailure } from "../nylas/errors.js";
import { isIanaZone } from "../config.js";
import { followNylasStatus, initialGrantStatus } from "./status.js";

export interface SyncSettings {
  defaultTimeZone: string;
  defaultSendHour: number;
  pageSize?: number;
  /** Concurrent calendar look-ups. */
  concurrency?: number;
}

export interface SyncResult {
  seen: number;
  created: number;
  updated: number;
  needsReauth: number;
  zoneFallbacks: number;
  errors: number;
}

/**
 * Pages through the application's grants and upserts each: email, provider, status and
 * the time zone of its primary calendar (the configured default when the calendar gives
 * none or an unknown one). Operator settings (send hour, on/off) are never overwritten.
 */
export async function syncGrants(db: Db, nylas: NylasApi, log: Logger, settings: SyncSettings): Promise<SyncResult> {
  const result: SyncResult = { seen: 0, created: 0, updated: 0, needsReauth: 0, zoneFallbacks: 0, errors: 0 };
  const pageSize = settings.pageSize ?? 100;
  const limit = pLimit(settings.concurrency ?? 8);
  for (let offset = 0; ; offset += pageSize) {
    const page = await nylas.grantsPage({ limit: pageSize, offset });
    result.seen += page.length;
    await Promise.all(page.map((g) => limit(() => upsertOne(db, nylas, log, g, settings, result))));
    if (page.length < pageSize) break;
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
): Promise<void> {
  try {
    let zone: string | undefined;
    if (g.status === "valid") {
      try {
        zone = await nylas.calendarZone(g.id, "primary");
      } catch (err) {
        const f = classifyError(err);
        if (f.kind === "auth") g = { ...g, status: "invalid" };
        else log.warn({ grantId: g.id }, `calendar time zone unavailable: ${describeFailure(f)}`);
      }
    }
    if (zone !== undefined && !isIanaZone(zone)) {
      log.warn({ grantId: g.id, zone: zone.slice(0, 64) }, "calendar has an unknown time zone; using the default");
      zone = undefined;
    }
    const existing = await db.grant.findUnique({ where: { id: g.id }, select: { status: true, timeZone: true } });
    if (zone === undefined && !existing && g.status === "valid" && result) result.zoneFallbacks++;
    if (g.status === "invalid" && result) result.needsReauth++;
    if (!existing) {
      await db.grant.create({
        data: {
          id: g.id,
          email: g.email,
          provider: g.provider,
          timeZone: zone ?? settings.defaultTimeZone,
          sendHour: settings.defaultSendHour,
          ...initialGrantStatus(g.status),
        },
      });
      if (result) result.created++;
      return;
    }
    await db.grant.update({
      where: { id: g.id },
      data: { email: g.email, provider: g.provider, ...(zone ? { timeZone: zone } : {}) },
    });
    await followNylasStatus(db, g.id, existing.status, g.status);
    if (result) result.updated++;
  } catch (err) {
    if (result) result.errors++;
    log.error({ grantId: g.id, err }, "grant sync failed for one grant");
  }
}
