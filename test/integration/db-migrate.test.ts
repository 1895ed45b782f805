import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  DEFAULT_MIGRATIONS_DIR,
  MigrationError,
  type MigrationRow,
  PRISMA_MIGRATE_LOCK_KEY,
  dropDatabase,
  ensureDatabase,
  migrate,
  migrationChecksum,
  readMigrations,
  scriptMatchesChecksum,
} from "../../src/db/migrate.js";
import { testDatabaseUrl, uniqueId } from "../support/db.js";

// The offline migrator against scratch databases of its own (advisory locks are per database,
// so these tests never block the shared test database).

const scratch: string[] = [];
const tempDirs: string[] = [];

async function freshDb(): Promise<string> {
  const u = new URL(testDatabaseUrl());
  u.pathname = `/${decodeURIComponent(u.pathname.slice(1))}_${uniqueId("mig").toLowerCase()}`;
  const url = u.toString();
  scratch.push(url);
  expect(await ensureDatabase(url)).toBe(true);
  expect(await ensureDatabase(url)).toBe(false);
  return url;
}

/** A copy of prisma/migrations plus extra migrations `{ name: sql }`. */
function migrationsWith(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "reminders-migrations-"));
  tempDirs.push(dir);
  cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, "migration.sql"), sql);
  }
  return dir;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

type Row = MigrationRow;

const rowsOf = (url: string) =>
  withClient(url, async (c) => (await c.query<Row>("SELECT * FROM _prisma_migrations ORDER BY started_at")).rows);

async function rejection(p: Promise<unknown>): Promise<MigrationError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MigrationError);
  expect((err as Error).message).not.toContain("\n");
  return err as MigrationError;
}

afterAll(async () => {
  for (const url of scratch) await dropDatabase(url).catch(() => {});
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

const local = await readMigrations();

describe("checksums", () => {
  it("are lowercase hex SHA-256 of the script, as Prisma renders them", () => {
    // The fixture from Prisma's own checksum tests.
    expect(migrationChecksum("hello")).toBe("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    const file = readFileSync(join(DEFAULT_MIGRATIONS_DIR, local[0]!.name, "migration.sql"));
    expect(local[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(local[0]!.checksum).toBe(migrationChecksum(file.toString("utf8")));
  });

  it("match whatever the line endings, and the old unpadded form, like Prisma's engine", () => {
    const lf = "ab\ncd\nef\ngh\rab\n";
    const crlf = "ab\r\ncd\r\nef\r\ngh\rab\r\n";
    for (const a of [lf, crlf])
      for (const b of [lf, crlf]) expect(scriptMatchesChecksum(a, migrationChecksum(b))).toBe(true);
    expect(scriptMatchesChecksum("abc", migrationChecksum("abcd"))).toBe(false);
    expect(scriptMatchesChecksum("abc\n", migrationChecksum("abc"))).toBe(false);

    const unpadded = Array.from(Buffer.from(migrationChecksum("x"), "hex"), (b) => b.toString(16)).join("");
    if (unpadded.length !== 64) expect(scriptMatchesChecksum("x", unpadded)).toBe(true);
  });

  it("reads migrations sorted by folder name and ignores migration_lock.toml", async () => {
    const dir = migrationsWith({ "20990101000000_b": "SELECT 1;", "20980101000000_a": "SELECT 2;" });
    const names = (await readMigrations(dir)).map((m) => m.name);
    expect(names).toEqual([...local.map((m) => m.name), "20980101000000_a", "20990101000000_b"]);
  });
});

describe("migrate", () => {
  it("applies everything to a fresh database and records it as Prisma does", async () => {
    const url = await freshDb();
    const lines: string[] = [];
    const res = await migrate(url, { log: (l) => lines.push(l) });
    expect(res.applied).toEqual(local.map((m) => m.name));
    expect(res.alreadyApplied).toEqual([]);
    expect(lines.some((l) => l.startsWith("applied "))).toBe(true);

    const rows = await rowsOf(url);
    expect(rows.map((r) => r.migration_name)).toEqual(local.map((m) => m.name));
    for (const [i, r] of rows.entries()) {
      expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.checksum).toBe(local[i]!.checksum);
      expect(r.finished_at).toBeInstanceOf(Date);
      expect(r.finished_at!.getTime()).toBeGreaterThanOrEqual(r.started_at.getTime());
      expect(r.logs).toBeNull();
      expect(r.rolled_back_at).toBeNull();
      expect(r.applied_steps_count).toBe(1);
    }

    // Prisma's table definition, column by column.
    const cols = await withClient(
      url,
      async (c) =>
        (
          await c.query(
            `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
           FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
          )
        ).rows,
    );
    expect(cols).toEqual([
      { column_name: "id", data_type: "character varying", len: 36, is_nullable: "NO", column_default: null },
      { column_name: "checksum", data_type: "character varying", len: 64, is_nullable: "NO", column_default: null },
      {
        column_name: "finished_at",
        data_type: "timestamp with time zone",
        len: null,
        is_nullable: "YES",
        column_default: null,
      },
      {
        column_name: "migration_name",
        data_type: "character varying",
        len: 255,
        is_nullable: "NO",
        column_default: null,
      },
      { column_name: "logs", data_type: "text", len: null, is_nullable: "YES", column_default: null },
      {
        column_name: "rolled_back_at",
        data_type: "timestamp with time zone",
        len: null,
        is_nullable: "YES",
        column_default: null,
      },
      {
        column_name: "started_at",
        data_type: "timestamp with time zone",
        len: null,
        is_nullable: "NO",
        column_default: "now()",
      },
      { column_name: "applied_steps_count", data_type: "integer", len: null, is_nullable: "NO", column_default: "0" },
    ]);
    const pk = await withClient(
      url,
      async (c) =>
        (
          await c.query(
            `SELECT conname FROM pg_constraint WHERE conrelid = '_prisma_migrations'::regclass AND contype = 'p'`,
          )
        ).rows,
    );
    expect(pk).toEqual([{ conname: "_prisma_migrations_pkey" }]);
  });

  it("is idempotent: a second run applies nothing and changes no row", async () => {
    const url = await freshDb();
    await migrate(url);
    const before = await rowsOf(url);
    const res = await migrate(url);
    expect(res.applied).toEqual([]);
    expect(res.alreadyApplied).toEqual(local.map((m) => m.name));
    expect(await rowsOf(url)).toEqual(before);
  });

  it("applies only what is new, in order", async () => {
    const url = await freshDb();
    await migrate(url);
    const dir = migrationsWith({ "20990101000000_add_note": 'ALTER TABLE "grants" ADD COLUMN "note" TEXT;' });
    const res = await migrate(url, { migrationsDir: dir });
    expect(res.applied).toEqual(["20990101000000_add_note"]);
    expect((await rowsOf(url)).map((r) => r.migration_name)).toEqual([
      ...local.map((m) => m.name),
      "20990101000000_add_note",
    ]);
  });

  it("accepts the same migration checked out with CRLF line endings", async () => {
    const url = await freshDb();
    await migrate(url);
    const dir = migrationsWith();
    for (const m of local) writeFileSync(join(dir, m.name, "migration.sql"), m.script.replaceAll("\n", "\r\n"));
    expect((await migrate(url, { migrationsDir: dir })).applied).toEqual([]);
  });

  it("refuses a migration whose recorded checksum differs", async () => {
    const url = await freshDb();
    await migrate(url);
    await withClient(url, (c) =>
      c.query("UPDATE _prisma_migrations SET checksum = $1 WHERE migration_name = $2", [
        "0".repeat(64),
        local[0]!.name,
      ]),
    );
    const dir = migrationsWith({ "20990101000000_more": "CREATE TABLE never_created (id int);" });
    const err = await rejection(migrate(url, { migrationsDir: dir }));
    expect(err.code).toBe("checksum_mismatch");
    expect(err.migrationName).toBe(local[0]!.name);
    expect(err.message).toContain("was modified after it was applied");
    const exists = await withClient(
      url,
      async (c) => (await c.query("SELECT to_regclass('never_created') AS t")).rows[0].t,
    );
    expect(exists).toBeNull();
  });

  it("rolls a failing migration back, records the failure, and blocks until it is resolved", async () => {
    const url = await freshDb();
    const broken = 'CREATE TABLE "half_done" ("id" INTEGER);\nSELECT * FROM "no_such_table";\n';
    const dir = migrationsWith({ "20990101000000_broken": broken });

    const err = await rejection(migrate(url, { migrationsDir: dir }));
    expect(err.code).toBe("migration_failed");
    expect(err.migrationName).toBe("20990101000000_broken");
    expect(err.message).toContain("no_such_table");

    const rows = await rowsOf(url);
    const failed = rows.find((r) => r.migration_name === "20990101000000_broken")!;
    expect(failed).toMatchObject({
      finished_at: null,
      rolled_back_at: null,
      applied_steps_count: 0,
      checksum: migrationChecksum(broken),
    });
    expect(failed.logs).toContain("42P01");
    // The earlier migration stays applied; the failed one left nothing behind.
    expect(rows.find((r) => r.migration_name === local[0]!.name)?.finished_at).toBeInstanceOf(Date);
    expect(
      await withClient(url, async (c) => (await c.query("SELECT to_regclass('half_done') AS t")).rows[0].t),
    ).toBeNull();

    // Every later run refuses, even with the file fixed, until someone resolves it.
    writeFileSync(join(dir, "20990101000000_broken", "migration.sql"), 'CREATE TABLE "half_done" ("id" INTEGER);\n');
    const blocked = await rejection(migrate(url, { migrationsDir: dir }));
    expect(blocked.code).toBe("failed_migration");
    expect(blocked.message).toContain("20990101000000_broken");
    expect(blocked.message).toContain("prisma migrate resolve --rolled-back 20990101000000_broken");

    // `prisma migrate resolve --rolled-back` sets rolled_back_at; then the migration runs again.
    await withClient(url, (c) =>
      c.query("UPDATE _prisma_migrations SET rolled_back_at = now() WHERE id = $1", [failed.id]),
    );
    const res = await migrate(url, { migrationsDir: dir });
    expect(res.applied).toEqual(["20990101000000_broken"]);
    const after = (await rowsOf(url)).filter((r) => r.migration_name === "20990101000000_broken");
    expect(after).toHaveLength(2);
    expect(after.filter((r) => r.rolled_back_at === null && r.finished_at !== null)).toHaveLength(1);
  });

  it("refuses a schema that has tables but no _prisma_migrations (needs a baseline)", async () => {
    const url = await freshDb();
    await withClient(url, (c) => c.query("CREATE TABLE legacy (id int)"));
    const err = await rejection(migrate(url));
    expect(err.code).toBe("schema_not_empty");
  });

  it("works on a pg.Client and a pg.Pool and releases the advisory lock afterwards", async () => {
    const url = await freshDb();
    await withClient(url, async (c) => {
      await migrate(c);
      const locks = await c.query(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1",
        [PRISMA_MIGRATE_LOCK_KEY],
      );
      expect(locks.rows[0].n).toBe(0);
    });
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      expect((await migrate(pool)).alreadyApplied).toEqual(local.map((m) => m.name));
    } finally {
      await pool.end();
    }
  });
});

describe("advisory lock 72707369", () => {
  it("waits while another session (Prisma or us) holds the lock, then proceeds", async () => {
    const url = await freshDb();
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK_KEY]);
      const lines: string[] = [];
      let settled = false;
      // A long lock timeout: a loaded machine may be slow to get anywhere, never too fast.
      const running = migrate(url, { lockTimeoutMs: 120_000, log: (l) => lines.push(l) }).finally(
        () => (settled = true),
      );
      // Bounded wait for the migrator to say it is waiting: one that ignored the lock never would.
      const waiting = () => expect(lines.some((l) => l.includes("waiting for another migrator"))).toBe(true);
      await vi.waitFor(waiting, { timeout: 30_000, interval: 20 });
      // A few of its polls later it is still waiting: the lock is held, however long that took.
      await new Promise((r) => setTimeout(r, 400));
      expect(settled).toBe(false);
      expect((await holder.query("SELECT to_regclass('_prisma_migrations') AS t")).rows[0].t).toBeNull();
      await holder.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_LOCK_KEY]);
      expect((await running).applied).toEqual(local.map((m) => m.name));
    } finally {
      await holder.end();
    }
  });

  it("gives up with a one-line error after lockTimeoutMs", async () => {
    const url = await freshDb();
    await withClient(url, async (holder) => {
      await holder.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_LOCK_KEY]);
      const err = await rejection(migrate(url, { lockTimeoutMs: 300 }));
      expect(err.code).toBe("lock_timeout");
      expect(err.message).toContain("72707369");
    });
  });

  it("serialises two concurrent migrators: each migration is applied exactly once", async () => {
    const url = await freshDb();
    const dir = migrationsWith({ "20990101000000_slow": "SELECT pg_sleep(0.4);\nCREATE TABLE slow_done (id int);\n" });
    const [a, b] = await Promise.all([migrate(url, { migrationsDir: dir }), migrate(url, { migrationsDir: dir })]);
    const all = [...local.map((m) => m.name), "20990101000000_slow"];
    const appliedBy = [a.applied, b.applied].sort((x, y) => y.length - x.length);
    expect(appliedBy[0]).toEqual(all);
    expect(appliedBy[1]).toEqual([]);
    const rows = await rowsOf(url);
    expect(rows.map((r) => r.migration_name)).toEqual(all);
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);
  });
});
