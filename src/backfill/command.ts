import type { Config } from "../config.js";
import type { Db } from "../db/client.js";
import { NylasApi } from "../nylas/client.js";
import type { RunsQueue } from "../runs/queue.js";
import { EXIT, type BackfillArgs } from "./args.js";
import {
  dryRun,
  enqueueBackfill,
  isFailure,
  resolveGrants,
  table,
  waitForRuns,
  type BackfillGrant,
  type Output,
  type QueuedRun,
} from "./backfill.js";
import { describeSkips, sumSkips } from "./skips.js";

export interface BackfillCommand {
  db: Db;
  /** The runs queue; none on a dry run, which queues nothing. */
  queue?: RunsQueue;
  args: BackfillArgs;
  out: Output;
  config: Config;
  /** Ends the wait for the runs (an interrupt). */
  signal: AbortSignal;
}

/**
 * What `npm run backfill` does once its arguments are read: resolve the grants, then report a
 * dry run, or queue the runs and, with --wait, report how they ended. Gives the exit code.
 */
export async function runBackfill(cmd: BackfillCommand): Promise<number> {
  const { db, args, out } = cmd;
  const grants = await resolveGrants(db, args, out);
  if (grants.length === 0) {
    // --all on an empty database has nothing to do; named grants that all cannot run are
    // worth telling apart from a failed run in a script.
    if (args.all) out.line("no grant to backfill");
    else out.line("nothing to backfill: every named grant is skipped (see above)");
    return args.all ? EXIT.done : EXIT.allSkipped;
  }
  const span = daySpan(args.days);
  if (args.dryRun) return reportDryRun(cmd, grants, span);
  return queueRuns(cmd, cmd.queue!, grants, span);
}

function daySpan(days: string[]): string {
  return days.length === 1 ? days[0]! : `${days[0]} … ${days[days.length - 1]} (${days.length} days)`;
}

async function reportDryRun(
  { db, args, out, config }: BackfillCommand,
  grants: BackfillGrant[],
  span: string,
): Promise<number> {
  const nylas = new NylasApi({
    apiKey: config.NYLAS_API_KEY,
    apiUri: config.NYLAS_API_URI,
    timeout: config.NYLAS_TIMEOUT_S,
  });
  out.line(`dry run: ${grants.length} grant(s), ${span}; nothing is queued or sent`);
  const r = await dryRun(db, nylas, grants, args.days, {
    includeAllDay: config.INCLUDE_ALL_DAY,
    delivery: config.REMINDER_DELIVERY,
    policy: config.REMINDER_POLICY,
    maxRecipients: config.MAX_RECIPIENTS,
    minLeadMinutes: config.MIN_LEAD_MINUTES,
  });
  if (r.rows.length > 0)
    for (const l of table(
      ["grant", "day", "starts", "to", "subject", "state", "zone"],
      r.rows.map((x) => [x.grantId, x.day, x.start, x.to, x.subject, x.state, x.zone]),
    ))
      out.line(l);
  for (const e of r.errors) out.line(`cannot read ${e.grantId} ${e.day}: ${e.error}`);
  const failedReads = r.errors.length ? `; ${r.errors.length} calendar read(s) failed` : "";
  out.line(`would send ${r.wouldSend} reminder(s); ${r.alreadySent} already sent${failedReads}`);
  for (const l of describeSkips(r.skipped)) out.line(l);
  return r.errors.length > 0 ? 1 : 0;
}

async function queueRuns(
  cmd: BackfillCommand,
  queue: RunsQueue,
  grants: BackfillGrant[],
  span: string,
): Promise<number> {
  const { db, args, out } = cmd;
  const { runs, added } = await enqueueBackfill(db, queue, grants, args.days);
  const pending = runs.length > added ? `; ${runs.length - added} already waiting or running` : "";
  out.line(`queued ${added} job(s) for ${grants.length} grant(s), ${span}${pending}`);
  if (!args.wait) {
    out.line("the worker dyno runs them; follow them in Bull Board (/admin/queues) or run again with --wait");
    return 0;
  }
  return waitAndReport(cmd, queue, runs);
}

async function waitAndReport(
  { db, args, out, signal }: BackfillCommand,
  queue: RunsQueue,
  runs: QueuedRun[],
): Promise<number> {
  const outcomes = await waitForRuns(db, queue, runs, out, { timeoutMs: args.timeoutS * 1000, signal });
  const rows = outcomes.map((o) => [
    o.grantId,
    o.day,
    o.runStatus,
    String(o.meetings),
    String(o.sent),
    String(o.failed),
    o.zone,
    o.error ?? "",
  ]);
  for (const l of table(["grant", "day", "status", "meetings", "sent", "failed", "zone", "note"], rows)) out.line(l);
  const failures = outcomes.filter(isFailure).length;
  const sent = outcomes.reduce((a, o) => a + o.sent, 0);
  out.line(
    `${outcomes.length} run(s): ${outcomes.length - failures} ok, ${failures} failed; ` +
      `${sent} reminder(s) sent in total for these days`,
  );
  for (const l of describeSkips(sumSkips(outcomes.map((o) => o.skipped)))) out.line(l);
  return failures > 0 ? 1 : 0;
}
