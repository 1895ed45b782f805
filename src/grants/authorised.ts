import type { Db } from "../db/client.js";
import type { Logger } from "../log/logger.js";
import type { GrantInfo, NylasApi } from "../nylas/client.js";
import type { RunJobData } from "../runs/job.js";
import type { RunsQueue } from "../runs/queue.js";
import { enqueueUndoneDay, type UndoneDay } from "../runs/requeue.js";
import { markGrantValid, revokeOlderGrants } from "./status.js";
import { upsertOne, type SyncSettings } from "./sync.js";

export interface AuthorisedDeps {
  db: Db;
  nylas: NylasApi;
  runsQueue: RunsQueue;
  log: Logger;
  settings: SyncSettings;
}

export interface Authorisation {
  /** Why the grant is valid, for its status reason. */
  reason: string;
  source: Extract<RunJobData["source"], "connect" | "webhook" | "import">;
  now: Date;
  /** The zone of the browser the user signed in from (the connect page), if it told one. */
  browserZone?: string;
}

export interface Authorised {
  /** The grant was stored, not valid, and is valid now. */
  revalidated: boolean;
  /** Older grants of the same address, revoked: this one replaces them. */
  replaced: string[];
  /** The day queued at once, or why not; with `error` when queueing failed (the next tick queues it). */
  undone: UndoneDay & { error?: unknown };
}

/**
 * The user authorised a grant (the hosted OAuth callback; a grant.created or grant.updated
 * webhook for a grant Nylas says is valid): it becomes valid, its email, provider and zone
 * are stored (a browser zone from the connect page among the zone's sources), and the day it
 * has missed, if any, is queued without waiting for the next tick. It replaces the older
 * grants of its address (one valid grant per address: src/grants/status.ts). A bulk import
 * (src/grants/import/command.ts) comes through here too, as a webhook does: only older grants
 * of the address give way, never one its user signed in with since.
 */
export async function grantAuthorised(
  deps: AuthorisedDeps,
  grant: Omit<GrantInfo, "status">,
  how: Authorisation,
): Promise<Authorised> {
  const { db, log } = deps;
  // Valid first, then stored, then queued. The sync's upsert keeps a revoked grant revoked, so
  // it must find this one valid already; and only a grant that can run has its day queued (the
  // worker would skip it anyway), so queueing before the mark would queue nothing. Should the
  // queueing fail, Postgres already says valid and the next scheduler tick queues the day.
  const revalidated = await markGrantValid(db, grant.id, how.reason);
  const hints = how.browserZone !== undefined ? { browserZone: how.browserZone } : {};
  await upsertOne(db, deps.nylas, log, { ...grant, status: "valid" }, deps.settings, undefined, hints);
  // Stored first: a grant new to the database has no row to compare before.
  // A sign-in on the connect page is the user's choice now, so it replaces newer grants too; a
  // webhook may come late, so there only older grants give way.
  const replaced = await revokeOlderGrants(db, grant.id, log, { signedIn: how.source === "connect" });
  try {
    return {
      revalidated,
      replaced,
      undone: await enqueueUndoneDay(db, deps.runsQueue, grant.id, how.source, how.now),
    };
  } catch (error) {
    return { revalidated, replaced, undone: { enqueued: false, reason: "could not queue the undone day", error } };
  }
}
