import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

/**
 * An offline twin of `prisma migrate deploy` for PostgreSQL.
 *
 * Prisma's schema engine is a native binary downloaded at run time, which not every machine
 * can fetch. This module applies the same `prisma/migrations/<name>/migration.sql` scripts and
 * keeps the same `_prisma_migrations` bookkeeping the engine keeps, so either tool can take
 * over from the other:
 *
 * - the bookkeeping table is created with the engine's exact DDL;
 * - a row is inserted (uuid v4 id, checksum, started_at) before a script runs, and after it
 *   succeeds `applied_steps_count` is incremented and `finished_at` set; a failure leaves the
 *   row unfinished with the error in `logs`;
 * - the checksum is the lowercase hex SHA-256 of the script text, as the engine records it;
 *   comparison accepts the script with LF or CRLF line endings and the old non-zero-padded
 *   hex form, as the engine does;
 * - the whole run holds the session advisory lock the engine holds, `pg_advisory_lock(72707369)`;
 * - an unfinished, not rolled back row blocks every later run (the engine's P3009), and a
 *   migration whose rows are all rolled back is applied again.
 *
 * Two deliberate differences: each script runs inside an explicit transaction together with
 * its `finished_at` update (the engine relies on Postgres' implicit transaction for a
 * multi-statement simple query, which has the same effect on the schema), and a migration
 * whose file no longer matches its recorded checksum stops the run (the engine's `deploy`
 * only reports that in `migrate status` / `migrate dev`).
 */

/** The key Prisma's schema engine passes to `pg_advisory_lock` during migrate. */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** Prisma gives up on the advisory lock after 10 s; so do we, unless told otherwise. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

export const MIGRATIONS_TABLE = "_prisma_migrations";

/** Verbatim the table definition in Prisma's schema engine (Postgres flavour). */
export const MIGRATIONS_TABLE_DDL = `CREATE TABLE _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
);
`;

/** `<repo>/prisma/migrations`, found from this file whether it runs from src/ or dist/src/. */
export const DEFAULT_MIGRATIONS_DIR = findMigrationsDir();

function findMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "prisma", "migrations");
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return resolve(process.cwd(), "prisma", "migrations");
}

/**
 * The least a database handle must offer: parameterised queries and multi-statement scripts,
 * both on ONE session (the advisory lock and the transactions live on it). `pg.Client` and
 * PGlite both fit through {@link pgExecutor} / {@link pgliteExecutor}.
 */
export interface SqlExecutor {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Runs a script that may hold several statements, without parameters. */
  exec(script: string): Promise<void>;
  /** Whether another session could hold the advisory lock (false for embedded PGlite). */
  readonly sharedServer: boolean;
}

export function pgExecutor(client: pg.ClientBase): SqlExecutor {
  return {
    sharedServer: true,
    async query<R>(sql: string, params?: unknown[]) {
      const res = await client.query(sql, params as unknown[] | undefined);
      return res.rows as R[];
    },
    async exec(script: string) {
      // No parameters: node-postgres sends a simple query, which may hold many statements.
      await client.query(script);
    },
  };
}

/** The part of PGlite (`@electric-sql/pglite`) the migrator uses. */
export interface PGliteLike {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
  exec(sql: string): Promise<unknown>;
}

export function pgliteExecutor(db: PGliteLike): SqlExecutor {
  return {
    sharedServer: false,
    async query<R>(sql: string, params?: unknown[]) {
      return (await db.query<R>(sql, params)).rows;
    },
    async exec(script: string) {
      await db.exec(script);
    },
  };
}

export interface MigrateOptions {
  /** Folder holding `<timestamp>_<name>/migration.sql`; defaults to the repo's prisma/migrations. */
  migrationsDir?: string;
  /** One line per event (lock taken, migration applied, ...). */
  log?: (line: string) => void;
  /** How long to wait for another migrator's advisory lock. */
  lockTimeoutMs?: number;
}

export interface MigrateResult {
  /** Migrations applied by this run, in order. */
  applied: string[];
  /** Migrations found already applied. */
  alreadyApplied: string[];
  /** Recorded in the database but missing from the folder (reported, not an error; like Prisma). */
  unknownInDatabase: string[];
}

/** A refusal or a failure with a one-line, user-facing message. */
export class MigrationError extends Error {
  constructor(
    message: string,
    readonly code:
      | "lock_timeout"
      | "failed_migration"
      | "checksum_mismatch"
      | "schema_not_empty"
      | "migration_failed"
      | "bad_migrations_dir"
      | "provider_mismatch",
    readonly migrationName?: string,
  ) {
    super(message);
    this.name = "MigrationError";
  }
}

export interface LocalMigration {
  name: string;
  script: string;
  checksum: string;
}

export interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

/** Prisma's checksum of a migration script: lowercase hex SHA-256 of its UTF-8 text. */
export function migrationChecksum(script: string): string {
  return createHash("sha256").update(script, "utf8").digest("hex");
}

/**
 * Whether `script` matches a recorded checksum the way Prisma's engine decides it: the text as
 * is, with CRLF turned into LF, or with LF turned into CRLF; and for checksums an early engine
 * wrote without zero-padding each byte, the same unpadded form.
 */
export function scriptMatchesChecksum(script: string, recorded: string): boolean {
  const variants = [script, script.replaceAll("\r\n", "\n"), script.replaceAll("\n", "\r\n")];
  return variants.some((variant) => {
    const digest = createHash("sha256").update(variant, "utf8").digest();
    const rendered =
      recorded.length !== 0 && recorded.length !== 64
        ? Array.from(digest, (b) => b.toString(16)).join("")
        : digest.toString("hex");
    return rendered === recorded;
  });
}

/** Reads `<dir>/<name>/migration.sql` for every sub-folder, sorted by name as Prisma sorts them. */
export async function readMigrations(migrationsDir = DEFAULT_MIGRATIONS_DIR): Promise<LocalMigration[]> {
  let entries;
  try {
    entries = await readdir(migrationsDir, { withFileTypes: true });
  } catch {
    throw new MigrationError(`migrations folder not found: ${migrationsDir}`, "bad_migrations_dir");
  }
  const lockPath = join(migrationsDir, "migration_lock.toml");
  if (existsSync(lockPath)) {
    const lock = await readFile(lockPath, "utf8");
    const provider = /^\s*provider\s*=\s*"([^"]*)"/m.exec(lock)?.[1];
    if (provider && provider !== "postgresql") {
      throw new MigrationError(
        `migration_lock.toml says provider "${provider}", but this migrator only handles "postgresql"`,
        "provider_mismatch",
      );
    }
  }
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: LocalMigration[] = [];
  for (const name of names) {
    const file = join(migrationsDir, name, "migration.sql");
    let script: string;
    try {
      script = await readFile(file, "utf8");
    } catch {
      throw new MigrationError(`migration ${name} has no readable migration.sql`, "bad_migrations_dir", name);
    }
    out.push({ name, script, checksum: migrationChecksum(script) });
  }
  return out;
}

/** Target of {@link migrate}: a connection string, a node-postgres client or pool, or an executor. */
export type MigrateTarget = string | pg.ClientBase | pg.Pool | SqlExecutor;

/**
 * Applies every pending migration, like `prisma migrate deploy`.
 * Throws {@link MigrationError} (one-line message) on refusal or failure.
 */
export async function migrate(target: MigrateTarget, options: MigrateOptions = {}): Promise<MigrateResult> {
  const local = await readMigrations(options.migrationsDir);
  if (typeof target === "string") {
    const client = new pg.Client({ connectionString: target, application_name: "reminders-migrate" });
    await client.connect();
    try {
      return await migrateWith(pgExecutor(client), local, options);
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (target instanceof pg.Pool) {
    const client = await target.connect();
    try {
      return await migrateWith(pgExecutor(client), local, options);
    } finally {
      client.release();
    }
  }
  if (isExecutor(target)) return migrateWith(target, local, options);
  return migrateWith(pgExecutor(target), local, options);
}

function isExecutor(x: unknown): x is SqlExecutor {
  return typeof x === "object" && x !== null && "exec" in x && "sharedServer" in x;
}

async function migrateWith(db: SqlExecutor, local: LocalMigration[], options: MigrateOptions): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  await acquireLock(db, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, log);
  try {
    await initialize(db, log);
    const rows = await listRows(db);

    const failed = rows.filter((r) => r.finished_at === null && r.rolled_back_at === null);
    if (failed.length > 0) {
      const f = failed[0]!;
      const why = f.logs?.trim() ? `: ${firstLine(f.logs)}` : "";
      throw new MigrationError(
        `migration ${f.migration_name} started at ${f.started_at.toISOString()} failed${why}; ` +
          `repair the database, then mark it with \`prisma migrate resolve --rolled-back ${f.migration_name}\` ` +
          `(or --applied) before migrating again`,
        "failed_migration",
        f.migration_name,
      );
    }

    const live = rows.filter((r) => r.rolled_back_at === null);
    const localNames = new Set(local.map((m) => m.name));
    const unknownInDatabase = [...new Set(live.map((r) => r.migration_name).filter((n) => !localNames.has(n)))];
    for (const name of unknownInDatabase)
      log(`warning: ${name} is recorded in the database but missing from the migrations folder`);

    const pending: LocalMigration[] = [];
    const alreadyApplied: string[] = [];
    for (const m of local) {
      const recorded = live.filter((r) => r.migration_name === m.name);
      if (recorded.length === 0) {
        pending.push(m);
        continue;
      }
      if (!recorded.some((r) => scriptMatchesChecksum(m.script, r.checksum))) {
        throw new MigrationError(
          `migration ${m.name} was modified after it was applied (checksum ${m.checksum} differs from the recorded ` +
            `${recorded[0]!.checksum}); restore the file or add a new migration instead`,
          "checksum_mismatch",
          m.name,
        );
      }
      alreadyApplied.push(m.name);
    }

    const applied: string[] = [];
    for (const m of pending) {
      await applyOne(db, m, log);
      applied.push(m.name);
    }
    log(
      applied.length === 0
        ? `database is up to date (${alreadyApplied.length} migration${alreadyApplied.length === 1 ? "" : "s"})`
        : `applied ${applied.length} migration${applied.length === 1 ? "" : "s"}`,
    );
    return { applied, alreadyApplied, unknownInDatabase };
  } finally {
    await db.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_LOCK_KEY]).catch(() => {});
  }
}

async function acquireLock(db: SqlExecutor, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const [row] = await db.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [
      PRISMA_MIGRATE_LOCK_KEY,
    ]);
    if (row?.locked) return;
    if (!db.sharedServer || Date.now() >= deadline) {
      throw new MigrationError(
        `timed out after ${timeoutMs} ms waiting for the migrate advisory lock ` +
          `(pg_advisory_lock(${PRISMA_MIGRATE_LOCK_KEY})); ` +
          `another migrator is running, or a session still holds the lock`,
        "lock_timeout",
      );
    }
    if (!told) {
      log("waiting for another migrator to finish (advisory lock 72707369)");
      told = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Prisma's `initialize`: create the bookkeeping table, but never over an unmanaged schema. */
async function initialize(db: SqlExecutor, log: (line: string) => void): Promise<void> {
  const tables = await db.query<{ table_name: string }>(
    `SELECT tbl.relname AS table_name
       FROM pg_class AS tbl
       JOIN pg_namespace AS namespace ON namespace.oid = tbl.relnamespace
      WHERE tbl.relkind = 'r' AND namespace.nspname = current_schema()`,
  );
  if (tables.some((t) => t.table_name === MIGRATIONS_TABLE)) return;
  if (tables.length > 0) {
    throw new MigrationError(
      `the database schema is not empty but has no ${MIGRATIONS_TABLE} table (${tables.length} table(s) found); ` +
        `baseline it with \`prisma migrate resolve --applied <migration>\` first`,
      "schema_not_empty",
    );
  }
  await db.exec(MIGRATIONS_TABLE_DDL);
  log(`created ${MIGRATIONS_TABLE}`);
}

async function listRows(db: SqlExecutor): Promise<MigrationRow[]> {
  const rows = await db.query<MigrationRow>(
    `SELECT id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count
       FROM ${MIGRATIONS_TABLE} ORDER BY started_at ASC`,
  );
  return rows.map((r) => ({
    ...r,
    finished_at: toDate(r.finished_at),
    rolled_back_at: toDate(r.rolled_back_at),
    started_at: toDate(r.started_at) ?? new Date(0),
  }));
}

function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  return v instanceof Date ? v : new Date(String(v));
}

async function applyOne(db: SqlExecutor, m: LocalMigration, log: (line: string) => void): Promise<void> {
  const id = randomUUID();
  // Recorded before the script runs and outside its transaction, as Prisma does: a run that
  // dies half way leaves an unfinished row that blocks later runs until someone looks.
  await db.query(
    `INSERT INTO ${MIGRATIONS_TABLE} (id, checksum, started_at, migration_name) VALUES ($1, $2, clock_timestamp(), $3)`,
    [id, m.checksum, m.name],
  );
  const started = Date.now();
  try {
    await db.exec("BEGIN");
    await db.exec(m.script);
    await db.query(
      `UPDATE ${MIGRATIONS_TABLE} SET applied_steps_count = applied_steps_count + 1, finished_at = clock_timestamp()
       WHERE id = $1`,
      [id],
    );
    await db.exec("COMMIT");
  } catch (err) {
    await db.exec("ROLLBACK").catch(() => {});
    const e = err as { message?: string; code?: string };
    const logs =
      `Migration ${m.name} failed to apply.\n\n` +
      `Database error code: ${e.code ?? "none"}\n\nDatabase error:\n${e.message ?? String(err)}`;
    await db.query(`UPDATE ${MIGRATIONS_TABLE} SET logs = $2 WHERE id = $1`, [id, logs]).catch(() => {});
    throw new MigrationError(
      `migration ${m.name} failed and was rolled back: ${firstLine(e.message ?? String(err))}` +
        (e.code ? ` (${e.code})` : ""),
      "migration_failed",
      m.name,
    );
  }
  log(`applied ${m.name} in ${Date.now() - started} ms`);
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

// ---------------------------------------------------------------------------------------------
// Creating and dropping databases (tests, the demo, a fresh local machine).

function splitDatabaseUrl(url: string): { name: string; adminUrls: string[] } {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (!name) throw new Error("the database URL names no database");
  // Like Prisma: try `postgres`, then `template1`, then `defaultdb` as the maintenance database.
  const adminUrls = ["postgres", "template1", "defaultdb"].map((db) => {
    const a = new URL(url);
    a.pathname = `/${db}`;
    a.searchParams.delete("schema");
    return a.toString();
  });
  return { name, adminUrls };
}

async function withAdmin<T>(url: string, fn: (client: pg.Client, name: string) => Promise<T>): Promise<T> {
  const { name, adminUrls } = splitDatabaseUrl(url);
  let lastError: unknown;
  for (const adminUrl of adminUrls) {
    const client = new pg.Client({ connectionString: adminUrl, application_name: "reminders-migrate" });
    try {
      await client.connect();
    } catch (err) {
      lastError = err;
      const code = (err as { code?: string }).code;
      if (code === "3D000" || code === "28000" || code === "42501") continue; // no such database / no access
      throw err;
    }
    try {
      return await fn(client, name);
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw lastError instanceof Error ? lastError : new Error("could not connect to a maintenance database");
}

const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Creates the database named in `url` unless it exists. Returns whether it was created. */
export async function ensureDatabase(url: string): Promise<boolean> {
  return withAdmin(url, async (client, name) => {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
      return true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "42P04" || code === "23505") return false; // created meanwhile by someone else
      throw err;
    }
  });
}

/** Drops the database named in `url` (terminating its sessions). For tests and resets only. */
export async function dropDatabase(url: string): Promise<void> {
  await withAdmin(url, async (client, name) => {
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
      [name],
    );
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  });
}
