import { randomUUID } from "node:crypto";
import type { Db } from "../db/client.js";

/**
 * The reminders ledger: one row per (grant, event id, event start), claimed before a send
 * and marked after it. Every path that can send (scheduler jobs, retries, stalled jobs,
 * backfills) passes through `claim`, so a reminder goes out at most once.
 *
 * Row states:
 * - claimed: a send is in flight, or its outcome is unknown (a timeout, a crash). Another
 *   attempt may take it over once the lease has run out, after looking in the grant's
 *   Sent folder for the row's marker.
 * - sent:    done; never claimed again.
 * - failed:  the send was refused (4xx, 429, 401), so nothing went out; claimable again
 *   while attempts remain.
 * - skipped: deliberately not sent (e.g. the run was cancelled); not claimed again.
 */

export interface ClaimInput {
  grantId: string;
  eventId: string;
  /** Unix seconds. */
  eventStart: number;
  day: string;
  title: string;
  recipients: { name?: string; email: string }[];
}

export type Claim =
  | { outcome: "claimed"; id: bigint; marker: string; attempts: number; /** an earlier attempt may have sent it */ uncertain: boolean }
  | { outcome: "done"; status: "sent" | "skipped" }
  | { outcome: "busy"; /** ms until the other claim's lease runs out */ retryInMs: number }
  | { outcome: "exhausted"; attempts: number };

export interface LedgerSettings {
  /** How long a claim protects an in-flight send (ms). Must exceed the send timeout. */
  leaseMs: number;
  /** Claims of a refused send allowed before the reminder is given up. */
  maxAttempts: number;
}

interface ClaimRow {
  id: bigint;
  marker: string;
  attempts: number;
  previous: string | null;
}

interface StateRow {
  status: string;
  attempts: number;
  lease_left_ms: number | null;
}

export class Ledger {
  constructor(
    private readonly db: Db,
    private readonly settings: LedgerSettings,
  ) {}

  async claim(input: ClaimInput): Promise<Claim> {
    const start = new Date(input.eventStart * 1000);
    // Postgres text cannot hold NUL; the title here is only a note for people reading the
    // ledger, so a hostile title must not make the claim (and the whole run) fail.
    // eslint-disable-next-line no-control-regex
    const title = input.title.replace(/\u0000/g, "").slice(0, 2000);
    // One statement: `prev` sees the row as it was, the upsert only takes it over when
    // it is free (refused before, or its lease ran out).
    const rows = await this.db.$queryRaw<ClaimRow[]>`
      WITH prev AS (
        SELECT status::text AS status FROM reminders
        WHERE grant_id = ${input.grantId} AND event_id = ${input.eventId} AND event_start = ${start}
      ), up AS (
        INSERT INTO reminders (grant_id, event_id, event_start, day, title, recipients, marker, status, attempts, claimed_at, updated_at)
        VALUES (${input.grantId}, ${input.eventId}, ${start}, ${input.day}, ${title}, ${JSON.stringify(input.recipients)}::jsonb,
                ${randomUUID()}, 'claimed', 1, now(), now())
        ON CONFLICT (grant_id, event_id, event_start) DO UPDATE
          -- Only a claim after a refusal counts: taking over a claim whose send timed out or
          -- whose process died is not the reminder's fault and must not exhaust it.
          SET status = 'claimed', attempts = reminders.attempts + CASE WHEN reminders.status = 'failed' THEN 1 ELSE 0 END,
              claimed_at = now(), updated_at = now(),
              day = EXCLUDED.day, title = EXCLUDED.title, recipients = EXCLUDED.recipients
          WHERE (reminders.status = 'claimed' AND reminders.claimed_at < now() - make_interval(secs => ${this.settings.leaseMs / 1000}))
             OR (reminders.status = 'failed' AND reminders.attempts < ${this.settings.maxAttempts})
        RETURNING id, marker, attempts
      )
      SELECT up.id, up.marker, up.attempts, (SELECT status FROM prev) AS previous FROM up`;
    const row = rows[0];
    if (row) return { outcome: "claimed", id: row.id, marker: row.marker, attempts: row.attempts, uncertain: row.previous === "claimed" };

    const state = await this.db.$queryRaw<StateRow[]>`
      SELECT status::text AS status, attempts,
             CASE WHEN status = 'claimed'
                  THEN GREATEST(0, EXTRACT(EPOCH FROM (claimed_at + make_interval(secs => ${this.settings.leaseMs / 1000}) - now())) * 1000)::int
             END AS lease_left_ms
      FROM reminders WHERE grant_id = ${input.grantId} AND event_id = ${input.eventId} AND event_start = ${start}`;
    const s = state[0];
    if (!s) return { outcome: "busy", retryInMs: 1000 }; // lost a race with a concurrent insert
    if (s.status === "sent" || s.status === "skipped") return { outcome: "done", status: s.status };
    if (s.status === "failed") return { outcome: "exhausted", attempts: s.attempts };
    return { outcome: "busy", retryInMs: Math.max(1, s.lease_left_ms ?? 1000) };
  }

  async markSent(id: bigint, messageId: string): Promise<void> {
    await this.db.reminder.update({ where: { id }, data: { status: "sent", messageId, sentAt: new Date(), lastError: null } });
  }

  /**
   * The send was refused: nothing went out. A refusal that is not the reminder's fault
   * (the grant's budget, a 401) hands the attempt back so it cannot exhaust the reminder.
   */
  async markFailed(id: bigint, error: string, opts: { countAttempt?: boolean } = {}): Promise<void> {
    const attempts = opts.countAttempt === false ? { decrement: 1 } : undefined;
    await this.db.reminder.update({ where: { id }, data: { status: "failed", lastError: error, ...(attempts ? { attempts } : {}) } });
  }

  /** The outcome is unknown: keep the claim but let the next attempt take it at once. */
  async release(id: bigint, error: string): Promise<void> {
    await this.db.reminder.update({ where: { id }, data: { lastError: error, claimedAt: new Date(0) } });
  }

  /** Ledger totals of one grant's day, whatever attempt or process wrote them. */
  async totals(grantId: string, day: string): Promise<{ sent: number; failed: number; pending: number }> {
    const groups = await this.db.reminder.groupBy({ by: ["status"], where: { grantId, day }, _count: { _all: true } });
    const count = (s: string) => groups.find((g) => g.status === s)?._count._all ?? 0;
    return { sent: count("sent"), failed: count("failed"), pending: count("claimed") };
  }
}
