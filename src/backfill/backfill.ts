import type { Event } from "nylas";
import type { Db } from "../db/client.js";
import type { NylasApi } from "../nylas/client.js";
import { classifyError, describeFailure } from "../nylas/errors.js";
import type { RunsQueue } from "../runs/queue.js";
import { toDeliveries, type DeliveryMode } from "../reminders/deliveries.js";
import { selectMeetings } from "../reminders/select.js";
import { composeReminder } from "../reminders/template.js";
import { runJobId } from "../runs/job.js";
import { clockNow } from "../time/clock.js";
import { formatLocal, localDayWindow } from "../time/window.js";
import type { BackfillArgs } from "./args.js";
import { GRANT_CAN_RUN_WHERE, whyGrantCannotRun } from "../grants/status.js";
import { requeueDays } from "../runs/requeue.js";
import { zoneWithSource, type ZoneSource } from "../grants/zone-source.js";
import { splitByLead } from "../reminders/lead.js";
import type { ReminderPolicy } from "../reminders/policy.js";
import { sumSkips, type SkipCounts } from "./skips.js";

export interface BackfillGrant {
  id: string;
  email: string;
  timeZone: string;
  timeZoneSource: ZoneSource;
  calendarId: string;
  /** The grant's reminder policy; null: the deployment's. */
  policy: ReminderPolicy | null;
}

export interface Output {
  /** One line of normal output. */
  line(text: string): void;
  /** Redraws the progress line (TTY); undefined → progress is printed as plain lines. */
  progress?(text: string): void;
}

export class BackfillError extends Error {
  override name = "BackfillError";
  /** 2 for a bad argument found only against the database (an unknown grant). */
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/**
 * The grants a backfill covers. Named grants must exist; one that cannot run (needs
 * re-auth, revoked, disabled) is reported and left out. `--all` takes every grant that can
 * run, read in keyset pages.
 */
export async function resolveGrants(
  db: Db,
  args: Pick<BackfillArgs, "grants" | "all">,
  out: Output,
): Promise<BackfillGrant[]> {
  const select = {
    id: true,
    email: true,
    provider: true,
    timeZone: true,
    timeZoneSource: true,
    calendarId: true,
    status: true,
    enabled: true,
    policy: true,
  } as const;
  const usableOf = (g: BackfillGrant): BackfillGrant => ({
    id: g.id,
    email: g.email,
    timeZone: g.timeZone,
    timeZoneSource: g.timeZoneSource,
    calendarId: g.calendarId,
    policy: g.policy,
  });
  if (!args.all) {
    // A grants file may name thousands: looked up in pages, far from Postgres' bind limit.
    const pages = [];
    for (let i = 0; i < args.grants.length; i += 1000) pages.push(args.grants.slice(i, i + 1000));
    const found = (
      await Promise.all(pages.map((ids) => db.grant.findMany({ where: { id: { in: ids } }, select })))
    ).flat();
    const byId = new Map(found.map((g) => [g.id, g]));
    const unknown = args.grants.filter((id) => !byId.has(id));
    if (unknown.length > 0) {
      throw new BackfillError(
        `unknown grant${unknown.length > 1 ? "s" : ""}: ${unknown.slice(0, 5).join(", ")}` +
          `${unknown.length > 5 ? ", …" : ""} (not in the database; run npm run grants:sync or connect it first)`,
        2,
      );
    }
    const usable: BackfillGrant[] = [];
    for (const id of args.grants) {
      const g = byId.get(id)!;
      const blocked = whyGrantCannotRun(g);
      if (blocked !== undefined) out.line(`skipping ${id}: ${blocked}`);
      else usable.push(usableOf(g));
    }
    return usable;
  }
  const all: BackfillGrant[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await db.grant.findMany({
      where: { ...GRANT_CAN_RUN_WHERE, ...(cursor ? { id: { gt: cursor } } : {}) },
      orderBy: { id: "asc" },
      take: 1000,
      select,
    });
    if (page.length === 0) break;
    for (const g of page) all.push(usableOf(g));
    cursor = page[page.length - 1]!.id;
    if (page.length < 1000) break;
  }
  return all;
}

export interface QueuedRun {
  grantId: string;
  day: string;
  jobId: string;
}

/** Queues every (grant, day) through the scheduler's path (same ids, Run rows `queued`). */
export async function enqueueBackfill(
  db: Db,
  queue: RunsQueue,
  grants: BackfillGrant[],
  days: string[],
): Promise<{ runs: QueuedRun[]; added: number }> {
  const runs: QueuedRun[] = [];
  let added = 0;
  for (const g of grants) {
    added += await requeueDays(db, queue, g, days, "backfill");
    for (const day of days) runs.push({ grantId: g.id, day, jobId: runJobId(g.id, day) });
  }
  return { runs, added };
}

export interface DryRunRow {
  grantId: string;
  day: string;
  /** The grant's zone and its source, e.g. "Asia/Tokyo (calendar)". */
  zone: string;
  start: string;
  subject: string;
  to: string;
  state: "would send" | "already sent";
}

export interface DryRunResult {
  rows: DryRunRow[];
  wouldSend: number;
  alreadySent: number;
  /** Grants whose calendar could not be read, with why. */
  errors: { grantId: string; day: string; error: string }[];
  /** Meetings that would get no reminder, by reason (as a run would record them). */
  skipped: SkipCounts;
}

export interface DryRunOptions {
  includeAllDay: boolean;
  /** REMINDER_POLICY, for grants without their own. */
  policy: ReminderPolicy;
  maxRecipients: number;
  minLeadMinutes: number;
  /** REMINDER_DELIVERY: one message per meeting where allowed (default), or per recipient. */
  delivery?: DeliveryMode;
}

/**
 * What a backfill would send, computed with the worker's own pure functions over one read of
 * each day's events, minus what the ledger says already went out. Queues and sends nothing.
 */
export async function dryRun(
  db: Db,
  nylas: NylasApi,
  grants: BackfillGrant[],
  days: string[],
  options: DryRunOptions,
): Promise<DryRunResult> {
  const result: DryRunResult = { rows: [], wouldSend: 0, alreadySent: 0, errors: [], skipped: {} };
  for (const g of grants) {
    for (const day of days) {
      let window: { start: number; end: number };
      try {
        window = localDayWindow(g.timeZone, day);
      } catch (err) {
        result.errors.push({ grantId: g.id, day, error: (err as Error).message });
        continue;
      }
      const events: Event[] = [];
      try {
        for await (const page of nylas.events(g.id, {
          calendarId: g.calendarId,
          start: window.start,
          end: window.end,
          limit: 200,
          expandRecurring: true,
        }))
          events.push(...page);
      } catch (err) {
        result.errors.push({ grantId: g.id, day, error: describeFailure(classifyError(err)) });
        continue;
      }
      const selection = selectMeetings(events, {
        window,
        grantEmail: g.email,
        includeAllDay: options.includeAllDay,
        zone: g.timeZone,
        policy: g.policy ?? options.policy,
        maxRecipients: options.maxRecipients,
      });
      // As the worker would now: too late is never sent.
      const lead = splitByLead(
        selection.meetings,
        Math.floor(clockNow().getTime() / 1000),
        options.minLeadMinutes * 60,
      );
      const meetings = lead.due;
      const started = lead.started.length > 0 ? { started: lead.started.length } : {};
      result.skipped = sumSkips([result.skipped, selection.skipped, started]);
      const sent =
        meetings.length === 0
          ? []
          : await db.reminder.findMany({
              where: {
                grantId: g.id,
                status: "sent",
                OR: meetings.map((m) => ({ eventId: m.eventId, eventStart: new Date(m.start * 1000) })),
              },
              select: { eventId: true, eventStart: true, audience: true },
            });
      // One row per message, as the worker would send them (see deliveries.ts).
      const done = new Set(sent.map((r) => `${r.eventId}|${r.eventStart.getTime() / 1000}|${r.audience}`));
      for (const { meeting: m, audience, recipients } of toDeliveries(meetings, options.delivery)) {
        const already = done.has(`${m.eventId}|${m.start}|${audience}`);
        const message = composeReminder(m, { zone: g.timeZone, senderEmail: g.email, now: clockNow() });
        result.rows.push({
          grantId: g.id,
          day,
          zone: zoneWithSource(g.timeZone, g.timeZoneSource),
          start: formatLocal(g.timeZone, m.start, "yyyy-MM-dd HH:mm zzz"),
          subject: message.subject,
          to: recipients.map((r) => r.email).join(", "),
          state: already ? "already sent" : "would send",
        });
        if (already) result.alreadySent++;
        else result.wouldSend++;
      }
    }
  }
  return result;
}

export interface RunOutcome {
  grantId: string;
  day: string;
  /** The zone the run's day was read in and its source, as recorded when it started. */
  zone: string;
  jobState: string;
  runStatus: string;
  meetings: number;
  sent: number;
  failed: number;
  /** What the run skipped, by reason. */
  skipped: SkipCounts;
  error?: string;
}

const FINAL = new Set(["completed", "failed"]);

/**
 * Polls the queued jobs until each is completed or failed for good, drawing progress, then
 * reads each Run row for the summary. Rejects after `timeoutMs` (the jobs stay queued).
 */
export async function waitForRuns(
  db: Db,
  queue: RunsQueue,
  runs: QueuedRun[],
  out: Output,
  options: { timeoutMs: number; pollMs?: number; signal?: AbortSignal },
): Promise<RunOutcome[]> {
  const deadline = Date.now() + options.timeoutMs;
  const states = new Map<string, string>();
  let lastPlain = "";
  let lastPlainAt = 0;
  let warnedNoWorker = false;
  for (;;) {
    for (const r of runs) {
      if (FINAL.has(states.get(r.jobId) ?? "")) continue;
      states.set(r.jobId, await queue.getJobState(r.jobId));
    }
    const counts = { done: 0, failed: 0, active: 0, waiting: 0 };
    for (const s of states.values()) {
      if (s === "completed") counts.done++;
      else if (s === "failed") counts.failed++;
      else if (s === "active") counts.active++;
      else counts.waiting++;
    }
    const finished = counts.done + counts.failed;
    const text =
      `${bar(finished, runs.length)} ${finished}/${runs.length} finished, ` +
      `${counts.failed} failed, ${counts.active} running, ${counts.waiting} waiting`;
    if (out.progress) out.progress(text);
    else if (finished === runs.length || (text !== lastPlain && Date.now() - lastPlainAt >= 2000)) {
      out.line(text);
      lastPlain = text;
      lastPlainAt = Date.now();
    }
    if (finished === runs.length) break;
    if (!warnedNoWorker && counts.active === 0 && Date.now() - (deadline - options.timeoutMs) > 3000) {
      const workers = await queue.getWorkers().catch(() => []);
      if (workers.length === 0)
        out.line(
          "no worker is connected to the queue: the jobs run when a worker dyno is up (heroku ps:scale worker=1)",
        );
      warnedNoWorker = true;
    }
    if (options.signal?.aborted) throw new BackfillError("stopped waiting; the jobs stay queued");
    if (Date.now() > deadline)
      throw new BackfillError(
        `jobs still unfinished after ${Math.round(options.timeoutMs / 1000)} s; they stay queued (see Bull Board)`,
      );
    await new Promise((r) => setTimeout(r, options.pollMs ?? 500));
  }

  const rows = await db.run.findMany({
    where: { OR: runs.map((r) => ({ grantId: r.grantId, day: r.day })) },
    select: {
      grantId: true,
      day: true,
      status: true,
      meetingsSeen: true,
      remindersSent: true,
      remindersFailed: true,
      remindersSkipped: true,
      skippedByReason: true,
      lastError: true,
      timeZone: true,
      timeZoneSource: true,
    },
  });
  const byKey = new Map(rows.map((r) => [`${r.grantId}|${r.day}`, r]));
  const outcomes: RunOutcome[] = [];
  for (const r of runs) {
    const row = byKey.get(`${r.grantId}|${r.day}`);
    const jobState = states.get(r.jobId) ?? "unknown";
    let error = row?.lastError ?? undefined;
    if (jobState === "failed" && !error) error = (await queue.getJob(r.jobId))?.failedReason;
    outcomes.push({
      grantId: r.grantId,
      day: r.day,
      zone: row ? zoneWithSource(row.timeZone, row.timeZoneSource) : "",
      jobState,
      runStatus: row?.status ?? "missing",
      meetings: row ? row.meetingsSeen - row.remindersSkipped : 0,
      sent: row?.remindersSent ?? 0,
      failed: row?.remindersFailed ?? 0,
      skipped: sumSkips([row?.skippedByReason]),
      error,
    });
  }
  return outcomes;
}

/** A run that did not end well: its job failed, or its Run row says so. */
export function isFailure(o: RunOutcome): boolean {
  return o.jobState === "failed" || o.runStatus === "failed" || o.runStatus === "needs_reauth" || o.failed > 0;
}

function bar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

/** Fixed-width text table; at most `maxRows` rows, then a count of the rest. */
export function table(header: string[], rows: string[][], maxRows = 200): string[] {
  const shown = rows.slice(0, maxRows);
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...shown.map((r) => (r[i] ?? "").length))));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => {
        const w = widths[i]!;
        const v = c.length > w ? `${c.slice(0, w - 1)}…` : c;
        return v.padEnd(w);
      })
      .join("  ")
      .trimEnd();
  const lines = [fmt(header), widths.map((w) => "-".repeat(w)).join("  "), ...shown.map(fmt)];
  if (rows.length > shown.length) lines.push(`… ${rows.length - shown.length} more`);
  return lines;
}
