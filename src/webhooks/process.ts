import type { Db } from "../db/client.js";
import { grantAuthorised } from "../grants/authorised.js";
import { markGrantNeedsReauth, markGrantRevoked } from "../grants/status.js";
import { upsertOne, type SyncSettings } from "../grants/sync.js";
import type { Logger } from "../log/logger.js";
import type { GrantInfo, NylasApi } from "../nylas/client.js";
import type { RunsQueue } from "../runs/queue.js";
import { rerunNextDay } from "../runs/rerun.js";
import { clockNow } from "../time/clock.js";
import type { GrantNotification } from "./notification.js";
import type { WebhookResult } from "./queue.js";

export interface WebhookDeps {
  db: Db;
  nylas: NylasApi;
  runsQueue: RunsQueue;
  log: Logger;
  settings: SyncSettings;
  now?: () => Date;
  /** RERUN_DEBOUNCE_MS: an event.* re-run waits this long, so a burst of changes gives one. */
  rerunDebounceMs?: number;
}

/**
 * Applies one grant notification. Safe to run again: a notification id already recorded in
 * `webhook_deliveries` changes nothing; the record is written only after the change, so a
 * job cut off half-way is simply done again (every step is idempotent).
 *
 * Deliveries can arrive out of order. `grant.expired` is ignored when the grant's status
 * changed after the notification was created, or when Nylas says the grant is valid now (a
 * later re-auth already won); `grant.created` and `grant.updated` ask Nylas for the grant's
 * current state rather than trusting the order.
 */
export async function processWebhook(deps: WebhookDeps, n: GrantNotification): Promise<WebhookResult> {
  const { db, log: baseLog } = deps;
  const log = baseLog.child({ grantId: n.grantId, notificationId: n.id, type: n.type });
  const seen = await db.webhookDelivery.findUnique({ where: { id: n.id }, select: { id: true } });
  if (seen) {
    log.info("webhook delivery already handled");
    return { outcome: "duplicate" };
  }
  const result = await apply(deps, n, log);
  await db.webhookDelivery.createMany({ data: [{ id: n.id, type: n.type, grantId: n.grantId }], skipDuplicates: true });
  log.info(result, "webhook handled");
  return result;
}

async function apply(deps: WebhookDeps, n: GrantNotification, log: Logger): Promise<WebhookResult> {
  const { db } = deps;
  switch (n.type) {
    case "event.created":
    case "event.updated":
    case "event.deleted": {
      const now = deps.now?.() ?? clockNow();
      const r = await rerunNextDay(db, deps.runsQueue, n.grantId, deps.rerunDebounceMs ?? 60_000, now);
      // The day's job is just ending (its run recorded completed): retried once it has ended.
      if (r.running) throw new Error(`re-run of ${r.day} must wait: ${r.reason}`);
      return r.queued
        ? { outcome: "applied", change: "rerun", enqueuedDay: r.day }
        : { outcome: "ignored", reason: r.reason };
    }
    case "grant.expired": {
      const grant = await db.grant.findUnique({
        where: { id: n.grantId },
        select: { status: true, statusChangedAt: true },
      });
      if (!grant) return { outcome: "ignored", reason: "grant not in the database" };
      // `time` is whole seconds: only a change in a later second surely came after it.
      if (n.time !== undefined && Math.floor(grant.statusChangedAt.getTime() / 1000) > n.time) {
        return { outcome: "ignored", reason: "grant status changed after this notification" };
      }
      // A re-authentication whose grant.updated arrived first changed nothing here (the grant
      // was still valid), so the status's time cannot tell; Nylas' grant can, when it changed
      // after the notification. A `valid` not changed since is Nylas' grant_status lagging
      // behind the expiry (it catches up later): the expiry stands.
      const info = await currentGrant(deps.nylas, n.grantId);
      if (info?.status === "valid" && (n.time === undefined || (info.updatedAt ?? 0) >= n.time))
        return { outcome: "ignored", reason: "grant is valid at Nylas, changed since this notification" };
      const changed = await markGrantNeedsReauth(db, n.grantId, "grant.expired webhook: the user must re-authenticate");
      if (changed) log.warn("grant needs re-authentication (grant.expired)");
      return {
        outcome: changed ? "applied" : "ignored",
        change: changed ? "needs_reauth" : undefined,
        reason: changed ? undefined : `grant already ${grant.status}`,
      };
    }
    case "grant.deleted": {
      const changed = await markGrantRevoked(db, n.grantId, "grant.deleted webhook");
      return {
        outcome: changed ? "applied" : "ignored",
        change: changed ? "revoked" : undefined,
        reason: changed ? undefined : "grant unknown or already revoked",
      };
    }
    case "grant.created":
    case "grant.updated": {
      const info = await currentGrant(deps.nylas, n.grantId);
      if (!info) return { outcome: "ignored", reason: "grant not found at Nylas" };
      const before = (await db.grant.findUnique({ where: { id: n.grantId }, select: { status: true } }))?.status;
      if (info.status !== "valid") {
        await upsertOne(db, deps.nylas, log, info, deps.settings);
        await markGrantNeedsReauth(db, n.grantId, `${n.type} webhook: grant invalid at Nylas`);
        return {
          outcome: "applied",
          change: before === "valid" ? "needs_reauth" : before === undefined ? "created" : "upserted",
        };
      }
      const { undone } = await grantAuthorised({ ...deps, log }, info, {
        reason: `${n.type} webhook: grant valid at Nylas`,
        source: "webhook",
        now: deps.now?.() ?? clockNow(),
      });
      // Thrown so the webhook job is retried: every step before the queueing is idempotent.
      if ("error" in undone) throw undone.error;
      return {
        outcome: "applied",
        change: before === undefined ? "created" : before !== "valid" ? "valid" : "upserted",
        enqueuedDay: undone.enqueued ? undone.day : undefined,
      };
    }
  }
}

/** The grant as Nylas sees it now; undefined when Nylas no longer knows it (404). */
async function currentGrant(nylas: NylasApi, grantId: string): Promise<GrantInfo | undefined> {
  try {
    return await nylas.grant(grantId);
  } catch (err) {
    const status = (err as { statusCode?: unknown }).statusCode;
    if (status === 404) return undefined;
    throw err;
  }
}
