import { parseArgs } from "node:util";
import { addDays } from "../time/window.js";
import { parseDay } from "../time/calendar.js";

export const MAX_DAYS = 31;

export const USAGE = `usage: npm run backfill -- (--grant ID ... | --all) (--date YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD) [options]

Queues the nightly run of each (grant, local day) again, with the scheduler's job ids and
the same ledger: reminders already sent are never sent twice; only missing ones go out.
A day is the grant's local calendar day whose meetings get reminders.

  --grant ID        a grant id (repeatable)
  --all             every valid, enabled grant
  --date DAY        one local day, YYYY-MM-DD
  --from DAY        first day of a range (inclusive); needs --to
  --to DAY          last day of a range (inclusive); at most ${MAX_DAYS} days
  --dry-run         read the calendars and print what would be sent; send and queue nothing
  --wait            wait for the jobs (progress bar on a terminal), print a summary table,
                    exit 1 if any failed
  --timeout-s N     give up waiting after N seconds (default 1800)
  -h, --help        this text

Exit codes: 0 done, 1 a job or a grant failed (or the wait timed out), 2 bad arguments or
configuration. The worker dyno runs the queued jobs; on Heroku:
  heroku run -- npm run backfill -- --grant <id> --date 2026-11-22 --wait`;

export interface BackfillArgs {
  grants: string[];
  all: boolean;
  days: string[];
  dryRun: boolean;
  wait: boolean;
  timeoutS: number;
}

export class UsageError extends Error {
  override name = "UsageError";
}

function day(value: string, flag: string): string {
  try {
    parseDay(value);
  } catch {
    throw new UsageError(`${flag} must be a date YYYY-MM-DD, got "${value.slice(0, 40)}"`);
  }
  return value;
}

/** Parses argv (without node and the script). Returns "help", the arguments, or throws UsageError. */
export function parseBackfillArgs(argv: string[]): BackfillArgs | "help" {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        grant: { type: "string", multiple: true },
        all: { type: "boolean" },
        date: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        "dry-run": { type: "boolean" },
        wait: { type: "boolean" },
        "timeout-s": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, ""));
  }
  if (values.help) return "help";

  const grants = [...new Set((values.grant ?? []).map((g) => g.trim()))];
  if (grants.some((g) => g === "" || g.length > 256 || /\s/.test(g))) throw new UsageError("--grant needs a grant id (no spaces, at most 256 characters)");
  if (values.all && grants.length > 0) throw new UsageError("use either --grant or --all, not both");
  if (!values.all && grants.length === 0) throw new UsageError("name the grants: --grant ID (repeatable) or --all");

  let days: string[];
  if (values.date !== undefined) {
    if (values.from !== undefined || values.to !== undefined) throw new UsageError("use either --date or --from/--to, not both");
    days = [day(values.date, "--date")];
  } else if (values.from !== undefined || values.to !== undefined) {
    if (values.from === undefined || values.to === undefined) throw new UsageError("--from and --to go together");
    const from = day(values.from, "--from");
    const to = day(values.to, "--to");
    const span = parseDay(to) - parseDay(from) + 1;
    if (span < 1) throw new UsageError(`--to (${to}) is before --from (${from})`);
    if (span > MAX_DAYS) throw new UsageError(`--from/--to spans ${span} days; at most ${MAX_DAYS} at a time`);
    days = Array.from({ length: span }, (_, i) => addDays(from, i));
  } else {
    throw new UsageError("name the days: --date YYYY-MM-DD or --from YYYY-MM-DD --to YYYY-MM-DD");
  }

  if (values["dry-run"] && values.wait) throw new UsageError("--wait has nothing to wait for with --dry-run");
  let timeoutS = 1800;
  if (values["timeout-s"] !== undefined) {
    const t = values["timeout-s"];
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 86_400) throw new UsageError("--timeout-s must be a whole number of seconds from 1 to 86400");
    timeoutS = Number(t);
  }
  return { grants, all: values.all === true, days, dryRun: values["dry-run"] === true, wait: values.wait === true, timeoutS };
}
