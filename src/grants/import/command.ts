/**
 * What `npm run grants:import` does once its arguments are read: checks the whole file, then
 * turns each row's credentials into a grant through Nylas' custom authentication, under the
 * application's budget for Nylas' authentication routes (shared through Redis by every
 * import running), and stores it as a sign-in would (src/grants/authorised.ts: zone, status,
 * one valid grant per address), with the file's settings (src/grants/settings-store.ts).
 *
 * Idempotent and resumable: an address has one grant at Nylas (importing it again returns
 * the same grant), and one row in the database; rows an earlier run finished (its report)
 * whose grants are stored are skipped, and an address whose valid grant is stored costs no
 * request. A crash between Nylas' answer and the database write converges on the next run:
 * Nylas answers with the same grant, which is then stored.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { stat } from "node:fs/promises";
import type { Db } from "../../db/client.js";
import type { Logger } from "../../log/logger.js";
import type { NylasApi } from "../../nylas/client.js";
import { classifyError, describeFailure, type Failure } from "../../nylas/errors.js";
import { backoffWithJitter, type GrantBudget } from "../../nylas/grant-limiter.js";
import { grantAuthorised, type AuthorisedDeps } from "../authorised.js";
import { applyGrantSettings, findGrantsByEmail } from "../settings-store.js";
import { IMPORT_EXIT, NYLAS_AUTH_LIMIT, type ImportArgs } from "./args.js";
import { createProgress, type ProgressSink } from "./progress.js";
import {
  OUTCOMES,
  readFinishedRows,
  reportPathFor,
  rowLine,
  runLine,
  withoutSecrets,
  type Outcome,
  type RowReport,
} from "./report.js";
import { rowKey, type ImportRow } from "./row.js";
import { readImportFile } from "./rows.js";

export interface ImportIo {
  /** stdout: the tables. */
  out: (line: string) => void;
  /** stderr: the progress and a malformed file's problems. */
  err: ProgressSink;
}

export interface ImportDeps {
  db: Db;
  nylas: NylasApi;
  /** The application's budget for Nylas' authentication routes. */
  budget: GrantBudget;
  authorised: AuthorisedDeps;
  log: Logger;
  signal?: AbortSignal;
  now?: () => Date;
}

/** At most this many problems of a malformed file are printed. */
const MAX_PRINTED = 50;
/** 429s in a row for one row before it is left for the next run. */
const MAX_RATE_LIMITED = 30;
const MAX_TRANSIENT = 5;
const REASON_MAX = 300;

class ApiKeyRefused extends Error {}

export interface FileSummary {
  malformed: string[];
  ready: number;
  invalid: number;
  duplicate: number;
  rows: number;
}

/** The first pass: the whole file checked, nothing sent. */
export async function checkImportFile(path: string): Promise<FileSummary> {
  const s: FileSummary = { malformed: [], ready: 0, invalid: 0, duplicate: 0, rows: 0 };
  for await (const item of readImportFile(path)) {
    if (item.kind === "malformed") {
      s.malformed.push(`line ${item.line}: ${item.problem}`);
      continue;
    }
    s.rows++;
    if (item.duplicateOf !== undefined) s.duplicate++;
    else if (item.check.ok) s.ready++;
    else s.invalid++;
  }
  return s;
}

export async function runImportCommand(args: ImportArgs, io: ImportIo, deps?: ImportDeps): Promise<number> {
  try {
    const st = await stat(args.file);
    if (!st.isFile()) throw new Error("not a file");
  } catch (err) {
    io.err.write(
      `grants:import: cannot read ${args.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`,
    );
    return IMPORT_EXIT.usage;
  }
  const check = await checkImportFile(args.file);
  if (check.malformed.length > 0) {
    for (const p of check.malformed.slice(0, MAX_PRINTED)) io.err.write(`grants:import: ${p}\n`);
    if (check.malformed.length > MAX_PRINTED)
      io.err.write(`grants:import: … and ${check.malformed.length - MAX_PRINTED} more malformed lines\n`);
    io.err.write(`grants:import: ${args.file} is malformed; nothing imported\n`);
    return IMPORT_EXIT.usage;
  }
  if (check.rows === 0) {
    io.err.write(`grants:import: ${args.file} has no rows; nothing imported\n`);
    return IMPORT_EXIT.usage;
  }
  if (args.dryRun) {
    await printInvalidRows(args.file, io);
    table(io, [
      ["ready", check.ready],
      ["invalid", check.invalid],
      ["duplicate", check.duplicate],
      ["total", check.rows],
    ]);
    io.out("dry run: nothing imported");
    return check.invalid + check.duplicate > 0 ? IMPORT_EXIT.rowsLeft : IMPORT_EXIT.done;
  }
  if (!deps) throw new Error("an import needs Nylas, Postgres and Redis");
  return importRows(args, io, deps, check.rows);
}

/** A dry run lists each invalid or duplicate row, one line each. */
async function printInvalidRows(file: string, io: ImportIo): Promise<void> {
  let printed = 0;
  for await (const item of readImportFile(file)) {
    if (item.kind !== "row" || (item.check.ok && item.duplicateOf === undefined)) continue;
    if (++printed > MAX_PRINTED) continue;
    const why =
      item.duplicateOf !== undefined
        ? `duplicate: the address is on line ${item.duplicateOf} already`
        : `invalid: ${(item.check as { problems: string[] }).problems.join("; ")}`;
    io.out(`line ${item.line}: ${why}`);
  }
  if (printed > MAX_PRINTED) io.out(`… and ${printed - MAX_PRINTED} more rows not ready`);
}

async function importRows(args: ImportArgs, io: ImportIo, deps: ImportDeps, total: number): Promise<number> {
  const now = deps.now ?? (() => new Date());
  const reportPath = reportPathFor(args.file);
  const finished = await readFinishedRows(reportPath);
  const fd = openSync(reportPath, "a", 0o600);
  const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  const calls = { requests: 0, rateLimited: 0 };
  const progress = createProgress(io.err, total);
  const started = performance.now();
  let done = 0;
  let fatal: Error | undefined;
  const record = (r: RowReport) => {
    writeSync(fd, `${rowLine(r)}\n`);
    counts[r.outcome]++;
    done++;
    progress.update(done);
  };
  try {
    writeSync(fd, `${runLine(args.file, now())}\n`);
    const inFlight = new Set<Promise<void>>();
    for await (const item of readImportFile(args.file)) {
      if (fatal || deps.signal?.aborted) break;
      if (item.kind === "malformed") continue; // the file changed since the check: left for the next run
      const c = item.check;
      if (item.duplicateOf !== undefined) {
        record({
          line: item.line,
          ...(c.ok ? { email: c.row.email, provider: c.row.provider } : {}),
          outcome: "duplicate",
          reason: `the address is on line ${item.duplicateOf} already`,
        });
        continue;
      }
      if (!c.ok) {
        record({
          line: item.line,
          ...(c.email !== undefined ? { email: c.email } : {}),
          outcome: "invalid",
          reason: c.problems.join("; ").slice(0, 1000),
        });
        continue;
      }
      const task = importRow(c.row, deps, finished, calls, now)
        .catch((err: unknown) => {
          if (err instanceof ApiKeyRefused) fatal ??= err;
          const reason = err instanceof ApiKeyRefused ? err.message : failureReason(classifyError(err), c.row);
          if (!(err instanceof ApiKeyRefused))
            deps.log.error({ line: c.row.line, reason }, "grants:import: a row failed");
          return { outcome: "failed" as const, reason };
        })
        .then((r) => record({ line: c.row.line, email: c.row.email, provider: c.row.provider, ...r }))
        .finally(() => inFlight.delete(task));
      inFlight.add(task);
      if (inFlight.size >= args.concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    closeSync(fd);
    progress.finish(done);
  }
  const seconds = (performance.now() - started) / 1000;
  table(io, [...OUTCOMES.map((o) => [o, counts[o]] as [string, number]), ["total", done]]);
  io.out(
    `nylas       ${calls.requests} requests in ${seconds.toFixed(1)} s: ${(calls.requests / Math.max(seconds, 0.001)).toFixed(1)}/s (limit ${NYLAS_AUTH_LIMIT}/s for the application, this import ${args.rate}/s); ${calls.rateLimited} answered 429`,
  );
  io.out(`report      ${reportPath}`);
  if (fatal) {
    io.err.write(`grants:import: ${fatal.message}; the rest of the file was not imported\n`);
    return IMPORT_EXIT.failed;
  }
  if (deps.signal?.aborted) {
    io.out(`interrupted after ${done} of ${total} rows: run the same command again to finish`);
    return IMPORT_EXIT.interrupted;
  }
  if (counts.created === 0 && counts.existing === done)
    io.out("nothing new: every row's grant was in the database already");
  io.out("delete the input file once you no longer need it: it holds your users' credentials");
  const left = counts.refused + counts.invalid + counts.duplicate + counts.failed;
  return left > 0 ? IMPORT_EXIT.rowsLeft : IMPORT_EXIT.done;
}

/** One row: skipped when done before, else its grant from Nylas, stored, with its settings. */
async function importRow(
  row: ImportRow,
  deps: ImportDeps,
  finished: Map<string, string>,
  calls: { requests: number; rateLimited: number },
  now: () => Date,
): Promise<Omit<RowReport, "line" | "email" | "provider">> {
  const { db } = deps;
  const earlier = finished.get(rowKey(row.email));
  if (earlier !== undefined && (await db.grant.findUnique({ where: { id: earlier }, select: { id: true } })))
    return { outcome: "existing", grant_id: earlier, reason: "imported by an earlier run" };
  // A valid grant of the address is stored (a sign-in, or a run cut short after storing it):
  // nothing to ask Nylas; the file's settings are applied, as that run would have.
  const stored = (await findGrantsByEmail(db, row.email, 20)).find(
    (g) => g.status === "valid" && g.provider === row.provider,
  );
  if (stored) {
    await applySettings(db, stored.id, row);
    return { outcome: "existing", grant_id: stored.id };
  }

  const answer = await createGrant(row, deps, calls);
  if ("refused" in answer) return { outcome: "refused", reason: answer.refused };
  if ("failed" in answer) return { outcome: "failed", reason: answer.failed };
  const grant = answer.grant;
  const before = await db.grant.findUnique({ where: { id: grant.id }, select: { id: true } });
  await grantAuthorised(
    deps.authorised,
    { id: grant.id, email: grant.email, provider: grant.provider },
    { reason: "imported with the user's credentials (custom authentication)", source: "import", now: now() },
  );
  if (!(await db.grant.findUnique({ where: { id: grant.id }, select: { id: true } })))
    return { outcome: "failed", grant_id: grant.id, reason: "the grant could not be stored: run the import again" };
  await applySettings(db, grant.id, row);
  const other =
    grant.email.toLowerCase() !== row.email.toLowerCase()
      ? { reason: `Nylas gave the grant of ${grant.email}: the credentials are that address'` }
      : {};
  return { outcome: before ? "existing" : "created", grant_id: grant.id, ...other };
}

async function applySettings(db: Db, grantId: string, row: ImportRow): Promise<void> {
  if (Object.keys(row.settings).length > 0) await applyGrantSettings(db, grantId, row.settings);
}

type NylasAnswer =
  { grant: { id: string; email: string; provider: string } } | { refused: string } | { failed: string };

/** Asks Nylas under the application's budget; a 429 holds every import back for its Retry-After. */
async function createGrant(
  row: ImportRow,
  deps: ImportDeps,
  calls: { requests: number; rateLimited: number },
): Promise<NylasAnswer> {
  let limited = 0;
  for (let attempt = 0; ;) {
    try {
      const grant = await deps.budget.run("read", () => {
        calls.requests++;
        return deps.nylas.customAuthentication(row.provider, row.credentials);
      });
      return { grant };
    } catch (err) {
      const f = classifyError(err);
      if (f.kind === "rate_limited") {
        calls.rateLimited++;
        if (++limited > MAX_RATE_LIMITED) return { failed: failureReason(f, row) };
        // Shared through Redis: every import running waits, not only this row.
        await deps.budget.block(f.retryAfterMs ?? 1000);
        continue;
      }
      if (f.kind === "auth") throw new ApiKeyRefused(`Nylas refused the API key (${f.status})`);
      if (f.kind === "transient") {
        if (++attempt >= MAX_TRANSIENT) return { failed: failureReason(f, row) };
        await new Promise((r) => setTimeout(r, backoffWithJitter(attempt, 500, 10_000)));
        continue;
      }
      return { refused: failureReason(f, row, providerErrorOf(err)) };
    }
  }
}

/** Nylas' reason in one line, the provider's own error code with it; never a credential. */
function failureReason(f: Failure, row: ImportRow, providerError?: string): string {
  const text = `${describeFailure(f)}${providerError ? ` (provider: ${providerError})` : ""}`;
  return withoutSecrets(text, Object.values(row.credentials).map(String)).slice(0, REASON_MAX);
}

function providerErrorOf(err: unknown): string | undefined {
  const pe = (err as { providerError?: unknown })?.providerError;
  if (typeof pe !== "object" || pe === null) return undefined;
  const p = pe as Record<string, unknown>;
  const parts = [p.error, p.error_description ?? p.errorDescription ?? p.message].filter(
    (v): v is string => typeof v === "string",
  );
  return parts.length > 0 ? parts.join(": ") : undefined;
}

function table(io: ImportIo, rows: [string, number][]): void {
  const width = Math.max(...rows.map(([, n]) => String(n).length));
  for (const [name, n] of rows) io.out(`${name.padEnd(11)} ${String(n).padStart(width)}`);
}
