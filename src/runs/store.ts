import type { Db } from "../db/client.js";
import { Coalescer } from "../db/coalesce.js";
import { scrubText } from "../log/scrub.js";

/**
 * The Run rows a job writes, and the grant it reads, in plain SQL: a job's start and finish
 * are on the hot path of every nightly job, where the Prisma query compiler costs more CPU
 * than the statements themselves, and concurrent jobs share each statement. Rare paths
 * use `save`. Error text is scrubbed of credentials before it is stored (src/log/scrub.ts).
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

interface RunStart {
  grantId: string;
  day: string;
  jobId: string | null;
  timeZone: string;
  windowStart: string;
  windowEnd: string;
}

type Totals = { sent: number; failed: number };

export class RunStore {
  constructor(private readonly db: Db) {}

  async grant(grantId: string): Promise<RunGrant | undefined> {
    return this.grants.one(grantId);
  }

  /** Marks the run as running (creating it when a job came without one) and counts the attempt. */
  async start(grantId: string, day: string, jobId: string | undefined, timeZone: string, window: { start: number; end: number }): Promise<void> {
    await this.starts.one({
      grantId,
      day,
      jobId: jobId ?? null,
      timeZone,
      windowStart: new Date(window.start * 1000).toISOString(),
      windowEnd: new Date(window.end * 1000).toISOString(),
    });
  }

  /**
   * Records a run's outcome with the ledger's totals for its day, counted in the same
   * statement (whatever attempt or process wrote the rows). Returns those totals; zeros
   * when the run row is gone (its grant was deleted mid-run).
   */
  async finish(grantId: string, day: string, f: RunFinish): Promise<Totals> {
    return this.finishes.one({ grantId, day, ...f, lastError: f.lastError === null ? null : scrubText(f.lastError) });
  }

  // Each of the three is one statement for every job of the process that asked meanwhile.
  private readonly grants = new Coalescer<string, RunGrant | undefined>(async (ids) => {
    const rows = await this.db.$queryRaw<RunGrant[]>`
      SELECT id, email, provider, time_zone AS "timeZone", calendar_id AS "calendarId", status::text AS status, enabled
      FROM grants WHERE id = ANY(${ids}::text[])`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id));
  });

  private readonly starts = new Coalescer<RunStart, void>(async (runs) => {
    const col = <K extends keyof RunStart>(k: K) => runs.map((r) => r[k]);
    await this.db.$executeRaw`
      INSERT INTO runs (grant_id, day, status, job_id, time_zone, window_start, window_end, attempts, started_at)
      SELECT grant_id, day, 'running', job_id, time_zone, window_start, window_end, 1, now()
      FROM unnest(${col("grantId")}::text[], ${col("day")}::text[], ${col("jobId")}::text[], ${col("timeZone")}::text[],
                  ${col("windowStart")}::timestamptz[], ${col("windowEnd")}::timestamptz[])
        AS t(grant_id, day, job_id, time_zone, window_start, window_end)
      ON CONFLICT (grant_id, day) DO UPDATE SET
        status = 'running', job_id = EXCLUDED.job_id, time_zone = EXCLUDED.time_zone,
        window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
        attempts = runs.attempts + 1, last_error = NULL, started_at = COALESCE(runs.started_at, now())`;
    return runs.map(() => undefined);
  });

  private readonly finishes = new Coalescer<RunFinish & { grantId: string; day: string }, Totals>(async (fs) => {
    const col = <T>(f: (x: (typeof fs)[number], i: number) => T) => fs.map(f);
    const rows = await this.db.$queryRaw<(Totals & { idx: number })[]>`
      WITH f AS (
        SELECT * FROM unnest(${col((_, i) => i)}::int[], ${col((x) => x.grantId)}::text[], ${col((x) => x.day)}::text[],
                             ${col((x) => x.status)}::text[], ${col((x) => x.meetingsSeen)}::int[], ${col((x) => x.remindersSkipped)}::int[],
                             ${col((x) => JSON.stringify(x.skippedByReason))}::jsonb[], ${col((x) => x.lastError)}::text[],
                             ${col((x) => x.finishedAt?.toISOString() ?? null)}::timestamptz[], ${col((x) => x.durationMs)}::int[])
          AS t(idx, grant_id, day, status, meetings_seen, reminders_skipped, skipped_by_reason, last_error, finished_at, duration_ms)
      ), t AS (
        SELECT f.*, c.sent, c.failed FROM f CROSS JOIN LATERAL (
          SELECT count(*) FILTER (WHERE r.status = 'sent')::int AS sent, count(*) FILTER (WHERE r.status = 'failed')::int AS failed
          FROM reminders r WHERE r.grant_id = f.grant_id AND r.day = f.day
        ) c
      )
      UPDATE runs SET status = t.status::"RunStatus", meetings_seen = t.meetings_seen, reminders_sent = t.sent,
        reminders_failed = t.failed, reminders_skipped = t.reminders_skipped, skipped_by_reason = t.skipped_by_reason,
        last_error = t.last_error, finished_at = COALESCE(t.finished_at, runs.finished_at),
        duration_ms = COALESCE(t.duration_ms, runs.duration_ms)
      FROM t WHERE runs.grant_id = t.grant_id AND runs.day = t.day
      RETURNING t.idx, t.sent, t.failed`;
    const out: Totals[] = fs.map(() => ({ sent: 0, failed: 0 }));
    for (const r of rows) out[r.idx] = { sent: r.sent, failed: r.failed };
    return out;
  });

  /** Any other change of a run (skips, failures, delays); creates the row if missing. */
  async save(grantId: string, day: string, timeZone: string | undefined, fields: Record<string, unknown>): Promise<void> {
    const data = typeof fields.lastError === "string" ? { ...fields, lastError: scrubText(fields.lastError) } : fields;
    await this.db.run.upsert({
      where: { grantId_day: { grantId, day } },
      create: { grantId, day, timeZone: timeZone ?? "UTC", ...data },
      update: data,
    });
  }
}
