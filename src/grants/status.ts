import type { Db, GrantStatus, Prisma } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import { scrubText } from "../log/scrub.js";
import { NO_CALENDAR, providerHasCalendar } from "../nylas/providers.js";
import { READ_DUPLICATE_WINNERS, READ_OLDER_DUPLICATES } from "./sql.js";

/**
 * A grant's status, and whether its runs may go ahead, decided here and nowhere else: every
 * change of `grants.status` goes through this module, so the worker (401), webhooks, the
 * OAuth callback and the grants sync agree. Each change records why (scrubbed of
 * credentials) and when; a change to the status a grant already has keeps the first reason.
 */

export interface GrantRunState {
  status: string;
  enabled: boolean;
  provider: string;
}

/**
 * Why a grant's runs may not go ahead, in words for logs, run rows and the backfill's output;
 * undefined when they may: the grant is valid, an operator left it enabled and its provider
 * has calendars. A disabled grant is called disabled whatever its status.
 */
export function whyGrantCannotRun(grant: GrantRunState): string | undefined {
  if (!grant.enabled) return "disabled";
  if (!providerHasCalendar(grant.provider)) return `has no calendar (Nylas has none for ${grant.provider} grants)`;
  if (grant.status === "valid") return undefined;
  return grant.status === "needs_reauth" ? "needs re-authentication" : grant.status;
}

export function grantCanRun(grant: GrantRunState): boolean {
  return whyGrantCannotRun(grant) === undefined;
}

/** The same rule for statements that pick grants: a condition on `grants`' own columns. */
export const GRANT_CAN_RUN_SQL = `status = 'valid' AND enabled AND provider NOT IN (${NO_CALENDAR.map((p) => `'${p}'`).join(", ")})`;
/** The same rule as a Prisma filter. */
export const GRANT_CAN_RUN_WHERE = {
  status: "valid",
  enabled: true,
  provider: { notIn: [...NO_CALENDAR] },
} as const satisfies Prisma.GrantWhereInput;

const REASON_MAX = 500;

async function change(
  db: Db,
  grantId: string,
  to: GrantStatus,
  reason: string,
  from: Prisma.GrantWhereInput["status"],
): Promise<boolean> {
  const res = await db.grant.updateMany({
    where: { id: grantId, status: from },
    data: { status: to, statusReason: scrubText(reason).slice(0, REASON_MAX), statusChangedAt: new Date() },
  });
  return res.count > 0;
}

/** Only a valid grant changes: a revoked one stays revoked. */
export async function markGrantNeedsReauth(db: Db, grantId: string, reason: string): Promise<boolean> {
  return change(db, grantId, "needs_reauth", reason, "valid");
}

/** The user authorised the grant: it is valid, whatever it was (even revoked). */
export async function markGrantValid(db: Db, grantId: string, reason: string): Promise<boolean> {
  // The sign-in may have granted what was refused before: the Sent check is tried again.
  await db.grant.updateMany({ where: { id: grantId, sentCheckOff: { not: null } }, data: { sentCheckOff: null } });
  return change(db, grantId, "valid", reason, { not: "valid" });
}

export async function markGrantRevoked(db: Db, grantId: string, reason: string): Promise<boolean> {
  return change(db, grantId, "revoked", reason, { not: "revoked" });
}

/**
 * One valid grant per address: a grant that just became valid replaces the older valid and
 * needs_reauth grants of its address (any case; older by created_at, then id), which are
 * revoked (their rows, runs and reminders stay: history). A grant its user has just signed in
 * with (`signedIn`) replaces every other one, newer ones too: it is the account the user chose
 * now. Nothing happens unless the grant is valid. Returns the ids revoked.
 */
export async function revokeOlderGrants(
  db: Db,
  grantId: string,
  log: Logger,
  opts: { signedIn?: boolean } = {},
): Promise<string[]> {
  const signedIn = opts.signedIn === true;
  const older = await db.$queryRawUnsafe<{ id: string }[]>(READ_OLDER_DUPLICATES, grantId, signedIn);
  const reason = signedIn ? `replaced by grant ${grantId}, signed in since` : `replaced by newer grant ${grantId}`;
  const revoked: string[] = [];
  for (const { id } of older) {
    // Only from valid or needs_reauth: a grant revoked meanwhile keeps its own reason.
    if (!(await change(db, id, "revoked", reason, { in: ["valid", "needs_reauth"] }))) continue;
    revoked.push(id);
    log.info({ grantId: id, replacedBy: grantId }, "grant revoked: a newer grant has its address");
  }
  return revoked;
}

/**
 * Every address with several valid or needs_reauth grants keeps its newest valid grant, the
 * others older than it revoked (the grants sync). Returns how many were revoked.
 */
export async function revokeDuplicateGrants(db: Db, log: Logger): Promise<number> {
  const keep = await db.$queryRawUnsafe<{ id: string }[]>(READ_DUPLICATE_WINNERS);
  let revoked = 0;
  for (const { id } of keep) revoked += (await revokeOlderGrants(db, id, log)).length;
  return revoked;
}

/**
 * The user did not let the worker read mail (a 403 on the Sent-folder check): the check is
 * off for the grant until its user signs in again, and nothing else changes.
 */
export async function turnSentCheckOff(db: Db, grantId: string, reason: string): Promise<void> {
  await db.grant.updateMany({
    where: { id: grantId, sentCheckOff: null },
    data: { sentCheckOff: scrubText(reason).slice(0, REASON_MAX) },
  });
}

/** What Nylas says of a grant (`grant_status`). */
export type NylasGrantStatus = "valid" | "invalid";

const INVALID_AT_NYLAS = "grant invalid at Nylas";
const VALID_AT_NYLAS = "grant valid at Nylas";

/** The status a grant is first stored with, from what Nylas says of it. */
export function initialGrantStatus(atNylas: NylasGrantStatus): { status: GrantStatus; statusReason: string | null } {
  return atNylas === "valid"
    ? { status: "valid", statusReason: null }
    : { status: "needs_reauth", statusReason: INVALID_AT_NYLAS };
}

/**
 * Follows what Nylas says of a stored grant (the grants sync). A revoked grant stays revoked:
 * only a webhook or the user's own sign-in brings it back, and neither goes through here.
 * `known` is the status just read, so a grant whose status stands costs no statement.
 */
export async function followNylasStatus(
  db: Db,
  grantId: string,
  known: GrantStatus,
  atNylas: NylasGrantStatus,
): Promise<boolean> {
  const to: GrantStatus = atNylas === "valid" ? "valid" : "needs_reauth";
  if (known === to || known === "revoked") return false;
  return to === "valid"
    ? change(db, grantId, "valid", VALID_AT_NYLAS, "needs_reauth")
    : markGrantNeedsReauth(db, grantId, INVALID_AT_NYLAS);
}
