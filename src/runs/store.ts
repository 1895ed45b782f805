import { sqlOf, type Db, type Prisma, type RunStatus, type Sql } from "../db/client.js";
import { Coalescer } from "../db/coalesce.js";
import type { ZoneSource } from "../grants/zone-source.js";
import { scrubText } from "../log/scrub.js";
import type { ReminderPolicy } from "../reminders/policy.js";
import { addDays, localDate } from "../time/window.js";
import { daysToReopen, isReopenedDayDue } from "./coverage.js";
import {
  FINISH_RUNS,
  QUEUE_DUE,
  QUEUE_DUE_PAGE,
  READ_REOPENED,
  READ_RUN_GRANTS,
  READ_SWEEPABLE,
  START_RUNS,
} from "./sql.js";

/**
 * The only writer of the `runs` table: every change of a run is one of the transitions
 * below, each with its own typed arguments. A run is `queued` by the scheduler, a backfill,
 * a webhook or a sign-in; `running` once its job starts; then `completed`, `skipped`,
 * `needs_reauth` or `failed`; a run stopped by a 401 is `revived` (queued again) once its
 * grant is valid; a completed run is `reopened` when its grant's zone changed and the day in
 * the new zone reaches past what was covered (src/runs/coverage.ts), and revived when due; a
 * completed run is `rerun` (queued again) when its day's meetings changed after it ran, by a
 * webhook or once by the second sweep (src/runs/rerun.ts, src/runs/sweep.ts). Error text is scrubbed of credentials before it is stored
 * (src/log/scrub.ts).
 *
 * The statements of the nightly hot path (the grant read, a job's start and finish, the
 * tick's pages) are plain SQL (src/runs/sql.ts): there the Prisma query compiler costs more
 * CPU than the statements themselves, and concurrent jobs share each statement. Rare
 * transitions use Prisma.
 */

/** A grant's local day, the key of its run. */
export interface RunKey {
  grantId: string;
  day: string;
}

/** A run whose row the write creates when it is missing: with its grant's zone ("UTC" when unknown). */
export interface RunRef extends RunKey {
  timeZone: string | undefined;
}

export interface RunGrant {
  id: string;
  email: string;
  provider: string;
  timeZone: string;
  timeZoneSource: ZoneSource;
  calendarId: string;
  status: string;
  enabled: boolean;
  /** BCP 47 tag of the grant's reminders; null: the deployment's DEFAULT_LOCALE. */
  locale: string | null;
  /** Why the Sent-folder check is off for the grant; null while it is on. */
  sentCheckOff: string | null;
  /** The grant's reminder policy; null: the deployment's REMINDER_POLICY. */
  policy: ReminderPolicy | null;
  /**
   * The latest window end of the grant's completed runs of the few days before the job's day
   * (Unix seconds), null when there is none: where the run may reach back to.
   */
  coverageEnd: number | null;
}

/** How many days before a run's day its coverage end is looked for (a reach back is at most 27 h). */
const COVERAGE_LOOKBACK_DAYS = 3;

/** What a finish returns: the day's ledger totals, and the grant's zone now (undefined: grant gone). */
export type Totals = { sent: number; failed: number; uncertain: number; zoneNow?: string };

/** A reopened run the tick found due, with the zone it is due in. */
export interface DueReopened extends RunKey {
  timeZone: string;
  sendHour: number;
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

/** A run due by the scheduler, with the status its run had before the tick recorded it (null: none). */
export type DueRun = [grantId: string, day: string, status: RunStatus | null];
/** A grant that can run whose (zone, send hour) the tick has not checked yet. */
export type UncheckedGrant = [grantId: string, zone: string, sendHour: number];

export interface DuePageQuery {
  /** The last grant id of the previous page; "" for the first. */
  after: string;
  pageSize: number;
  /** The tick's due checks so far: a JSON array of [zone, hour, day or null, bad]. */
  checked: string;
  ignoreSendHour: boolean;
}

export interface DuePage {
  /** Grants read (any status), and the last id among them: the next page's cursor. */
  n: number;
  last: string | null;
  /** Grants of the page that can run, and those of them whose due check is bad. */
  ok: number;
  bad: number;
  /** Due by a check already made; the page's statement inserted the runs they lacked. */
  due: DueRun[];
  /** Grants that can run whose (zone, hour) this tick had not checked yet. */
  unknown: UncheckedGrant[];
}

interface RunStart {
  grantId: string;
  day: string;
  jobId: string | null;
  timeZone: string;
  timeZoneSource: ZoneSource | null;
  windowStart: string;
  windowEnd: string;
}

export class RunStore {
  /** `db` may be a transaction (the zone writer reopens runs in the one that changes the zone). */
  private readonly sql: Sql;

  constructor(private readonly db: Db | Prisma.TransactionClient) {
    this.sql = sqlOf(db);
  }

  /**
   * The grant a job runs for, with its coverage end before `day` (not a write: it shares the
   * batching of the job's start).
   */
  async grant(grantId: string, day: string): Promise<RunGrant | undefined> {
    return this.grants.one({ grantId, day });
  }

  /**
   * Queued (a backfill, a webhook, a sign-in): creates the runs that are missing and queues
   * the others, unless one is running right now.
   */
  async queue(grant: { id: string; timeZone: string }, days: string[]): Promise<void> {
    await this.db.run.createMany({
      data: days.map((day) => ({ grantId: grant.id, day, timeZone: grant.timeZone })),
      skipDuplicates: true,
    });
    await this.db.run.updateMany({
      where: { grantId: grant.id, day: { in: days }, status: { not: "running" } },
      data: { status: "queued", lastError: null, enqueuedAt: new Date() },
    });
  }

  /** Queued by the scheduler, a page of grants at a time, in one statement (QUEUE_DUE_PAGE). */
  async queueDuePage(q: DuePageQuery): Promise<DuePage> {
    const [row] = await this.db.$queryRawUnsafe<{ page: string }[]>(
      QUEUE_DUE_PAGE,
      q.after,
      q.pageSize,
      q.checked,
      q.ignoreSendHour,
    );
    return JSON.parse(row!.page) as DuePage;
  }

  /** Queued by the scheduler: the due runs of grants a page statement could not match yet. */
  async queueDue(runs: { grantId: string; day: string; timeZone: string }[]): Promise<DueRun[]> {
    const [row] = await this.db.$queryRawUnsafe<{ due: string }[]>(
      QUEUE_DUE,
      JSON.stringify(runs.map((r) => [r.grantId, r.day, r.timeZone])),
    );
    return JSON.parse(row!.due) as DueRun[];
  }

  /** Revived: days stopped by a 401 whose grant is valid again are queued again. */
  async revive(runs: RunKey[]): Promise<void> {
    await this.db.run.updateMany({
      where: { OR: runs.map((r) => ({ grantId: r.grantId, day: r.day })) },
      data: { status: "queued", lastError: null },
    });
  }

  /**
   * Started: the run is running (created when a job came without one), with the zone and its
   * source as they are now, and the attempt counted.
   */
  async start(
    grantId: string,
    day: string,
    jobId: string | undefined,
    zone: { timeZone: string; timeZoneSource: ZoneSource | null },
    window: { start: number; end: number },
  ): Promise<void> {
    await this.starts.one({
      grantId,
      day,
      jobId: jobId ?? null,
      timeZone: zone.timeZone,
      timeZoneSource: zone.timeZoneSource,
      windowStart: new Date(window.start * 1000).toISOString(),
      windowEnd: new Date(window.end * 1000).toISOString(),
    });
  }

  /**
   * Finished: records a run's outcome (completed, or still running when some reminders must
   * wait for the next attempt) with the ledger's totals for its day, counted in the same
   * statement (whatever attempt or process wrote the rows). Returns those totals and the
   * grant's zone as it is now (see FINISH_RUNS); zeros when the run row is gone (its grant was
   * deleted mid-run).
   */
  async finish(grantId: string, day: string, f: RunFinish): Promise<Totals> {
    return this.finishes.one({ grantId, day, ...f, lastError: f.lastError === null ? null : scrubText(f.lastError) });
  }

  /** Skipped: the grant cannot run (disabled, revoked). */
  async skip(run: RunRef, reason: string): Promise<void> {
    await this.upsert(run, { status: "skipped", lastError: reason, finishedAt: new Date() });
  }

  /** Needs re-auth: the user must sign in again; the run waits to be revived. */
  async needsReauth(run: RunRef, reason: string): Promise<void> {
    await this.upsert(run, { status: "needs_reauth", lastError: reason, finishedAt: new Date() });
  }

  /** Failed, and over: nothing more will be tried. */
  async fail(run: RunRef, error: string): Promise<void> {
    await this.upsert(run, { status: "failed", lastError: error, finishedAt: new Date() });
  }

  /**
   * One attempt failed: the run stays `running` while the job will be retried, else it is
   * `failed`. Its finish time is left as it is.
   */
  async attemptFailed(run: RunRef, error: string, options: { retrying: boolean }): Promise<void> {
    await this.upsert(run, { status: options.retrying ? "running" : "failed", lastError: error });
  }

  /**
   * Failed, as the queue saw it: the job ended for good (retries spent, stalled too often).
   * Only a run still queued or running changes; one whose job recorded an outcome keeps it.
   */
  async failIfOpen(run: RunKey, error: string): Promise<void> {
    await this.db.run.updateMany({
      where: { grantId: run.grantId, day: run.day, status: { in: ["queued", "running"] } },
      data: { status: "failed", lastError: scrubText(error).slice(0, 500), finishedAt: new Date() },
    });
  }

  /**
   * Reopened: the grant's zone is now `zone`; its recent completed runs whose day in that zone
   * reaches past everything the grant's runs covered, and has not ended, are reopened (the
   * rule is `daysToReopen`). Returns the days reopened.
   */
  async reopenForZone(grantId: string, zone: string, now: Date): Promise<string[]> {
    const rows = await this.db.run.findMany({
      where: {
        grantId,
        status: { in: ["completed", "reopened"] },
        day: { gte: addDays(localDate("UTC", now), -2) },
        windowEnd: { not: null },
      },
      select: { day: true, windowEnd: true, status: true },
    });
    const days = daysToReopen(
      rows.map((r) => ({ day: r.day, windowEnd: r.windowEnd!.getTime() / 1000, reopened: r.status === "reopened" })),
      zone,
      now.getTime() / 1000,
    );
    if (days.length === 0) return [];
    await this.db.run.updateMany({
      where: { grantId, day: { in: days }, status: "completed" },
      data: { status: "reopened", lastError: `reopened: the grant's time zone is now ${zone}` },
    });
    return days;
  }

  /**
   * The reopened runs due at `now` (each in its grant's current zone), of grants that can run.
   * One statement for the whole tick: reopened runs are few.
   */
  async dueReopened(now: Date, ignoreSendHour: boolean): Promise<DueReopened[]> {
    const rows = await this.db.$queryRawUnsafe<DueReopened[]>(READ_REOPENED, addDays(localDate("UTC", now), -2));
    return rows.filter((r) => {
      try {
        return isReopenedDayDue(r.timeZone, ignoreSendHour ? 0 : r.sendHour, r.day, now);
      } catch {
        return false; // an unknown zone: the tick reports it with the grant's other runs
      }
    });
  }

  /**
   * Re-run: a completed day is queued again because its meetings changed after it ran (its
   * job is already in the queue). False when the run was not completed (nothing changes).
   */
  async rerun(run: RunKey): Promise<boolean> {
    const { count } = await this.db.run.updateMany({
      where: { grantId: run.grantId, day: run.day, status: "completed" },
      data: { status: "queued", lastError: null, enqueuedAt: new Date() },
    });
    return count > 0;
  }

  /** Completed runs of days from `from` to `to` not swept yet, of grants that can run, with the grant's zone. */
  async sweepable(from: string, to: string): Promise<(RunKey & { timeZone: string; finishedAt: Date | null })[]> {
    return this.db.$queryRawUnsafe<(RunKey & { timeZone: string; finishedAt: Date | null })[]>(
      READ_SWEEPABLE,
      from,
      to,
    );
  }

  /**
   * Swept: the second sweep re-runs a completed day, once (its job is already in the queue).
   * False when the run was no longer completed or was swept before.
   */
  async sweep(run: RunKey, at: Date): Promise<boolean> {
    const { count } = await this.db.run.updateMany({
      where: { grantId: run.grantId, day: run.day, status: "completed", sweptAt: null },
      data: { status: "queued", lastError: null, enqueuedAt: new Date(), sweptAt: at },
    });
    return count > 0;
  }

  private async upsert(
    run: RunRef,
    change: { status: RunStatus; lastError: string; finishedAt?: Date },
  ): Promise<void> {
    const data = { ...change, lastError: scrubText(change.lastError) };
    await this.db.run.upsert({
      where: { grantId_day: { grantId: run.grantId, day: run.day } },
      create: { grantId: run.grantId, day: run.day, timeZone: run.timeZone ?? "UTC", ...data },
      update: data,
    });
  }

  // The grant read, the start and the finish: each one statement for every job of the
  // process that asked meanwhile.
  private readonly grants = new Coalescer<{ grantId: string; day: string }, RunGrant | undefined>(async (keys) => {
    const rows = await this.sql.query<
      Omit<RunGrant, "coverageEnd"> & { idx: bigint | string; coverageEnd: Date | null }
    >(READ_RUN_GRANTS, [
      keys.map((k) => k.grantId),
      keys.map((k) => k.day),
      keys.map((k) => addDays(k.day, -COVERAGE_LOOKBACK_DAYS)),
    ]);
    const out: (RunGrant | undefined)[] = keys.map(() => undefined);
    for (const { idx, coverageEnd, ...g } of rows)
      out[Number(idx) - 1] = { ...g, coverageEnd: coverageEnd === null ? null : coverageEnd.getTime() / 1000 };
    return out;
  });

  private readonly starts = new Coalescer<RunStart, void>(async (runs) => {
    const col = <K extends keyof RunStart>(k: K) => runs.map((r) => r[k]);
    await this.sql.query(START_RUNS, [
      col("grantId"),
      col("day"),
      col("jobId"),
      col("timeZone"),
      col("timeZoneSource"),
      col("windowStart"),
      col("windowEnd"),
    ]);
    return runs.map(() => undefined);
  });

  private readonly finishes = new Coalescer<RunFinish & { grantId: string; day: string }, Totals>(async (fs) => {
    const col = <T>(f: (x: (typeof fs)[number], i: number) => T) => fs.map(f);
    const rows = await this.sql.query<{
      idx: number;
      sent: number;
      failed: number;
      uncertain: number;
      zoneNow: string | null;
    }>(FINISH_RUNS, [
      col((_, i) => i),
      col((x) => x.grantId),
      col((x) => x.day),
      col((x) => x.status),
      col((x) => x.meetingsSeen),
      col((x) => x.remindersSkipped),
      col((x) => JSON.stringify(x.skippedByReason)),
      col((x) => x.lastError),
      col((x) => x.finishedAt?.toISOString() ?? null),
      col((x) => x.durationMs),
    ]);
    const out: Totals[] = fs.map(() => ({ sent: 0, failed: 0, uncertain: 0 }));
    for (const r of rows)
      out[r.idx] = {
        sent: r.sent,
        failed: r.failed,
        uncertain: r.uncertain,
        ...(r.zoneNow ? { zoneNow: r.zoneNow } : {}),
      };
    return out;
  });
}
