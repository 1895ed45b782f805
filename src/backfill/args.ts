import { parseArgs } from "node:util";
import { addDays } from "../time/window.js";
import { parseDay } from "../time/calendar.js";

export const MAX_DAYS = 31;
/** The days a backfill may name: a typo like 9999-12-31 would only fail in the worker. */
export const FIRST_DAY = "2000-01-01";
export const LAST_DAY = "2100-12-31";

/** Exit codes of the command (listed in USAGE and the README). */
export const EXIT = { done: 0, failed: 1, usage: 2, allSkipped: 3, interrupted: 130 } as const;

export const USAGE = `usage: npm run backfill -- (--grant ID ... | --grants-file FILE | --all) (--date YYYY-MM-DD | --from YYYY-MM-DD --to YYYY-MM-DD) [options]

Queues the nightly run of each (grant, local day) again, with the scheduler's job ids and
the same ledger: reminders already sent are never sent twice; only missing ones go out.
A day is the grant's local calendar day whose meetings get reminders.

  --grant ID        a grant id (repeatable)
  --grants-file F   grant ids, one a line (blank lines and # comments ignored); - reads
                    stdin. Combines with --grant; duplicates are dropped
  --all             every valid, enabled grant
  --date DAY        one local day, YYYY-MM-DD, from ${FIRST_DAY} to ${LAST_DAY}
  --from DAY        first day of a range (inclusive); needs --to
  --to DAY          last day of a range (inclusive); at most ${MAX_DAYS} days
  --dry-run         read the calendars and print what would be sent; send and queue nothing
  --wait            wait for the jobs (progress bar on a terminal), print a summary table,
                    exit 1 if any failed
  --timeout-s N     give up waiting after N seconds (default 1800)
  -h, --help        this text

Exit codes: 0 done; 1 a job or a grant failed, or the wait timed out; 2 bad arguments,
configuration or grants file, or an unknown grant; 3 nothing to do: every named grant is
skipped (needs re-authentication, revoked or disabled); 130 interrupted while waiting (what
was queued stays queued). The worker dyno runs the queued jobs; on Heroku:
  heroku run -- npm run backfill -- --grant <id> --date 2026-11-22 --wait
  heroku run -- npm run backfill -- --grants-file - --date 2026-11-22 < grants.txt`;

export interface BackfillArgs {
  grants: string[];
  /** `--grants-file`: read by readGrantsFile, its ids then join `grants`. */
  grantsFile?: string;
  all: boolean;
  days: string[];
  dryRun: boolean;
  wait: boolean;
  timeoutS: number;
}

export class UsageError extends Error {
  override name = "UsageError";
}

const GRANT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}$/;
export const GRANT_ID_RULE = "1-256 letters, digits, '-', '_', '.' or ':'";

/** Nylas grant ids are UUIDs; anything else (spaces, quotes, control characters) is a typo. */
export function isGrantId(value: string): boolean {
  return GRANT_ID.test(value);
}

function day(value: string, flag: string): string {
  let n: number;
  try {
    n = parseDay(value);
  } catch {
    throw new UsageError(`${flag} must be a date YYYY-MM-DD, got "${value.slice(0, 40)}"`);
  }
  if (n < parseDay(FIRST_DAY) || n > parseDay(LAST_DAY))
    throw new UsageError(`${flag} must be a day from ${FIRST_DAY} to ${LAST_DAY}, got "${value}"`);
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
        "grants-file": { type: "string" },
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
  if (grants.some((g) => !isGrantId(g))) throw new UsageError(`--grant needs a grant id (${GRANT_ID_RULE})`);
  const grantsFile = values["grants-file"];
  if (grantsFile === "") throw new UsageError("--grants-file needs a file name (or - for stdin)");
  if (values.all && (grants.length > 0 || grantsFile !== undefined))
    throw new UsageError("use either --grant/--grants-file or --all, not both");
  if (!values.all && grants.length === 0 && grantsFile === undefined)
    throw new UsageError("name the grants: --grant ID (repeatable), --grants-file FILE or --all");

  let days: string[];
  if (values.date !== undefined) {
    if (values.from !== undefined || values.to !== undefined)
      throw new UsageError("use either --date or --from/--to, not both");
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
    if (!/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 86_400)
      throw new UsageError("--timeout-s must be a whole number of seconds from 1 to 86400");
    timeoutS = Number(t);
  }
  return {
    grants,
    ...(grantsFile !== undefined ? { grantsFile } : {}),
    all: values.all === true,
    days,
    dryRun: values["dry-run"] === true,
    wait: values.wait === true,
    timeoutS,
  };
}
