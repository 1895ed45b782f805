import type { Db } from "../db/client.js";

/**
 * The Run rows a job writes, and the grant it reads, in plain SQL: a job's start and finish
 * are on the hot path of every nightly job (one statement each), where the Prisma query
 * compiler costs more CPU than the statements themselves. Rare paths use `save`.
 */

export interface RunGrant {
  id: string;
  email: string;
  provider: string;
  timeZone: string;
  calendarId: string;
  status: string;
  enabled: boolean;
}

export interface RunFinish {
  status: "completed" | "running";
  meetingsSeen: number;
  remindersSkipped: number;
  skippedByReason: Record<string, number | undefined>;
  lastError: string | null;
  /** Set when the run is over (completed); a run that will be retried stays open. */
  finishedAt: Date | null;
  durationMs: number | null;
}

export class RunStore {
  constructor(private readonly db: Db) {}

  async grant(grantId: string): Promise<RunGrant | undefined> {
    const rows = await this.db.$queryRaw<RunGrant[]>`
      SELECT id, email, provider, time_zone AS "timeZone", calendar_id AS "calendarId", status::text AS status, enabled
      FROM grants WHERE id = ${grantId}`;
    return rows[0];
  }

  /** Marks the run as running (creating it when a job came without one) and counts the attempt. */
  async start(grantId: string, day: string, jobId: string | undefined, timeZone: string, window: { start: number; end: number }): Promise<void> {
    const ws = new Date(window.start * 1000);
    const we = new Date(window.end * 1000);
    await this.db.$executeRaw`
      INSERT INTO runs (grant_id, day, status, job_id, time_zone, window_start, window_end, attempts, started_at)
      VALUES (${grantId}, ${day}, 'running', ${jobId ?? null}, ${timeZone}, ${ws}, ${we}, 1, now())
      ON CONFLICT (grant_id, day) DO UPDATE SET
        status = 'running', job_id = EXCLUDED.job_id, time_zone = EXCLUDED.time_zone,
        window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
        attempts = runs.attempts + 1, last_error = NULL, started_at = COALESCE(runs.started_at, now())`;
  }

  /**
   * Records a run's outcome with the ledger's totals for its day, counted in the same
   * statement (whatever attempt or process wrote the rows). Returns those totals.
   */
  async finish(grantId: string, day: string, f: RunFinish): Promise<{ sent: number; failed: number }> {
    const rows = await this.db.$queryRaw<{ sent: number; failed: number }[]>`
      WITH t AS (
        SELECT count(*) FILTER (WHERE status = 'sent')::int AS sent, count(*) FILTER (WHERE status = 'failed')::int AS failed
        FROM reminders WHERE grant_id = ${grantId} AND day = ${day}
      )
      UPDATE runs SET status = ${f.status}::"RunStatus", meetings_seen = ${f.meetingsSeen}, reminders_sent = t.sent,
        reminders_failed = t.failed, reminders_skipped = ${f.remindersSkipped}, skipped_by_reason = ${JSON.stringify(f.skippedByReason)}::jsonb,
        last_error = ${f.lastError}, finished_at = COALESCE(${f.finishedAt}::timestamptz, runs.finished_at),
        duration_ms = COALESCE(${f.durationMs}::int, runs.duration_ms)
      FROM t WHERE runs.grant_id = ${grantId} AND runs.day = ${day}
      RETURNING t.sent, t.failed`;
    if (rows[0]) return rows[0];
    // The run row is gone (its grant was deleted mid-run): nothing to record.
    return { sent: 0, failed: 0 };
  }

  /** Any other change of a run (skips, failures, delays); creates the row if missing. */
  async save(grantId: string, day: string, timeZone: string | undefined, data: Record<string, unknown>): Promise<void> {
    await this.db.run.upsert({
      where: { grantId_day: { grantId, day } },
      create: { grantId, day, timeZone: timeZone ?? "UTC", ...data },
      update: data,
    });
  }
}
