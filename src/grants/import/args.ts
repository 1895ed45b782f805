import { parseArgs } from "node:util";

/** Exit codes of `npm run grants:import` (listed in USAGE and the README). */
export const IMPORT_EXIT = { done: 0, failed: 1, usage: 2, rowsLeft: 3, interrupted: 130 } as const;

/** Nylas allows an application 50 requests a second on its authentication routes. */
export const NYLAS_AUTH_LIMIT = 50;
export const DEFAULT_RATE = 40;
export const DEFAULT_CONCURRENCY = 8;

export const IMPORT_USAGE = `usage: npm run grants:import -- FILE [--dry-run] [--rate N] [--concurrency N]

Creates a Nylas grant for each user of FILE from the credentials the application already
holds (Nylas custom authentication, POST /v3/connect/custom), without asking anyone to sign
in, and stores each grant as a sign-in would (zone, one valid grant per address), with the
settings the file gives. The whole file is checked first; nothing is imported from a
malformed file.

FILE is CSV with a header line (by the name .csv, or a first line not starting with "{"),
or JSON Lines (.jsonl, .ndjson: one object per line), with these columns or keys:
  provider         google, microsoft or imap (required)
  email            the user's address (required)
  refresh_token    google, microsoft: the provider's OAuth refresh token (secret)
  imap_password    imap: the password or app password (secret)
  imap_username    imap: the login, if not the email
  imap_host, imap_port, smtp_host, smtp_port
                   imap: the servers, if Nylas cannot detect them
  time_zone        an IANA zone, set as the operator's override (e.g. Europe/Berlin)
  send_hour        local hour 0-23 from which the next day's reminders go out
  enabled          true or false
  locale           en, fr, de or a region of one (e.g. fr-CA)
Empty fields are absent. Example:
  provider,email,refresh_token,time_zone,send_hour
  google,ada@example.com,1//0gAbC...,Europe/Berlin,17

  --dry-run          check the file only: rows by outcome, nothing imported
  --rate N           requests a second to Nylas, 1-${NYLAS_AUTH_LIMIT}, shared by every import
                     running (through Redis); default ${DEFAULT_RATE}, leaving room under
                     Nylas' ${NYLAS_AUTH_LIMIT}/s for sign-ins
  --concurrency N    rows in progress at once, 1-50; default ${DEFAULT_CONCURRENCY}
  -h, --help         this text

Each row's outcome (created, existing, duplicate, refused, invalid, failed) goes to
FILE.report.jsonl, never a credential. Running the same file again creates nothing new:
rows done before are skipped, and an address with a grant gets that grant back. Delete FILE
once imported: it holds your users' credentials.

Exit codes: 0 every row created or existing; 1 an unexpected error (or Nylas refused the
API key); 2 bad arguments or configuration, or a malformed file (its problems on stderr,
one line each); 3 done, some rows not imported (see the report); 130 interrupted.

FILE "-" reads standard input (into a private temporary file, deleted at the end) and prints
the report after the summary: how a one-off dyno gets the file. On Heroku:
  heroku run --no-tty -- node dist/jobs/grants-import.js - < users.csv > import-report.txt`;

export interface ImportArgs {
  file: string;
  dryRun: boolean;
  rate: number;
  concurrency: number;
}

export class ImportUsageError extends Error {
  override name = "ImportUsageError";
}

/** Parses argv (without node and the script). Returns "help", the arguments, or throws ImportUsageError. */
export function parseImportArgs(argv: string[]): ImportArgs | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        "dry-run": { type: "boolean" },
        rate: { type: "string" },
        concurrency: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new ImportUsageError((err as Error).message.split("\n")[0]!);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return "help";
  const [file, ...rest] = positionals;
  if (file === undefined) throw new ImportUsageError("name the file to import: FILE (.csv or .jsonl)");
  if (rest.length > 0) throw new ImportUsageError(`unexpected argument "${rest[0]!.slice(0, 40)}"`);
  const whole = (name: string, value: string | undefined, min: number, max: number, dflt: number): number => {
    if (value === undefined) return dflt;
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
      throw new ImportUsageError(`--${name} must be a whole number ${min}-${max}, not "${value.slice(0, 20)}"`);
    return Number(value);
  };
  return {
    file,
    dryRun: v["dry-run"] === true,
    rate: whole("rate", v.rate, 1, NYLAS_AUTH_LIMIT, DEFAULT_RATE),
    concurrency: whole("concurrency", v.concurrency, 1, 50, DEFAULT_CONCURRENCY),
  };
}
