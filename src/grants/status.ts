import type { Db } from "../db/client.js";
import { scrubText } from "../log/scrub.js";

/**
 * Grant status changes, in one place so the worker (401), webhooks and OAuth callbacks
 * agree. Each records why (scrubbed of credentials) and when; a change to the same status
 * keeps the first reason.
 */

export async function markGrantNeedsReauth(db: Db, grantId: string, reason: string): Promise<boolean> {
  const res = await db.grant.updateMany({
    where: { id: grantId, status: "valid" },
    data: { status: "needs_reauth", statusReason: scrubText(reason).slice(0, 500), statusChangedAt: new Date() },
  });
  return res.count > 0;
}

export async function markGrantValid(db: Db, grantId: string, reason: string): Promise<boolean> {
  const res = await db.grant.updateMany({
    where: { id: grantId, status: { not: "valid" } },
    data: { status: "valid", statusReason: scrubText(reason).slice(0, 500), statusChangedAt: new Date() },
  });
  return res.count > 0;
}

export async function markGrantRevoked(db: Db, grantId: string, reason: string): Promise<boolean> {
  const res = await db.grant.updateMany({
    where: { id: grantId, status: { not: "revoked" } },
    data: { status: "revoked", statusReason: scrubText(reason).slice(0, 500), statusChangedAt: new Date() },
  });
  return res.count > 0;
}
