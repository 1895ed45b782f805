import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_MIGRATIONS_DIR,
  MigrationError,
  dropDatabase,
  ensureDatabase,
  migrate,
  readMigrations,
} from "../../src/db/migrate.js";
import { testDatabaseUrl, uniqueId } from "../support/db.js";

// Cross-checks against Prisma's OWN schema engine — the WebAssembly build published as
// @prisma/schema-engine-wasm (dev dependency), driven through @prisma/adapter-pg — so that no
// native binary download is needed:
//   - `prisma migrate deploy` and our migrator take over from each other, with equal checksums;
//   - Prisma's migration-history diagnosis finds nothing edited, failed or out of sync;
//   - `prisma migrate diff` from the migrated database, and from the migrations folder, to
//     schema.prisma is empty, and from empty to schema.prisma is our migration.sql.

const SCHEMA_PATH = join(DEFAULT_MIGRATIONS_DIR, "..", "schema.prisma");
const schemaFiles = () => [{ path: "schema.prisma", content: readFileSync(SCHEMA_PATH, "utf8") }];
const noFilter = { externalTables: [], externalEnums: [] };

function migrationsList() {
  const dir = DEFAULT_MIGRATIONS_DIR;
  return {
    baseDir: dir,
    shadowDbInitScript: "",
    lockfile: { path: "migration_lock.toml", content: readFileSync(join(dir, "migration_lock.toml"), "utf8") },
    migrationDirectories: readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => ({
        path: d.name,
        migrationFile: {
          path: "migration.sql",
          content: { tag: "ok" as const, value: readFileSync(join(dir, d.name, "migration.sql"), "utf8") },
        },
      })),
  };
}

// --- Loading the engine --------------------------------------------------------------------------

interface Engine {
  applyMigrations(input: unknown): Promise<{ appliedMigrationNames: string[] }>;
  diagnoseMigrationHistory(input: unknown): Promise<{
    editedMigrationNames: string[];
    failedMigrationNames: string[];
    hasMigrationsTable: boolean;
    history: unknown;
  }>;
  diff(input: unknown): Promise<{ exitCode: number; stdout?: string | null }>;
  free(): void;
}
type EngineModule = {
  SchemaEngine: { new: (options: unknown, log: (line: string) => void, adapter: object) => Promise<Engine> };
  __wbg_set_wasm(exports: unknown): void;
};

let engineModule: EngineModule;

async function loadEngine(): Promise<EngineModule> {
  // The package's entry imports the .wasm as an ES module, which Node 20 does not do without a
  // flag; instantiate it by hand the way that entry would.
  const require = createRequire(import.meta.url);
  const bgPath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
  const pkgDir = dirname(bgPath);
  const bg = (await import(pathToFileURL(bgPath).href)) as EngineModule & Record<string, unknown>;
  // (tsconfig has no DOM lib, so WebAssembly is typed by hand here.)
  const WA = (
    globalThis as unknown as {
      WebAssembly: {
        Module: new (bytes: Uint8Array) => object;
        Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
      };
    }
  ).WebAssembly;
  const module = new WA.Module(readFileSync(join(pkgDir, "schema_engine_bg.wasm")));
  const instance = new WA.Instance(module, { "./schema_engine_bg.js": bg });
  bg.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  (globalThis as Record<string, unknown>).PRISMA_WASM_PANIC_REGISTRY ??= { set_message: () => {} };
  return bg;
}

// --- A driver-adapter factory the engine can use ---------------------------------------------------
//
// Two gaps in @prisma/adapter-pg 7.10 when it serves the schema engine (not the client) are
// bridged here, in the test only: the engine's catalog queries return Postgres' internal "char"
// type (OID 18), which the adapter does not map, so it is presented as text; and its shadow
// database pool is built from `{ connectionString, database }`, where node-postgres lets the
// connection string win, so the "shadow" would be the main database.

const CHAR_OID = 18;
const TEXT_OID = 25;

function patchFields<T>(res: T): T {
  const fields = (res as { fields?: { dataTypeID: number }[] } | undefined)?.fields;
  for (const f of fields ?? []) if (f.dataTypeID === CHAR_OID) f.dataTypeID = TEXT_OID;
  return res;
}

class CharAsTextClient extends pg.Client {
  // node-postgres' query() has many overloads; pass everything through and fix the result.
  override query(...args: unknown[]): never {
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args[args.length - 1] = (err: unknown, res: unknown) =>
        (last as (e: unknown, r: unknown) => void)(err, patchFields(res));
      return (super.query as (...a: unknown[]) => unknown)(...args) as never;
    }
    const out = (super.query as (...a: unknown[]) => unknown)(...args);
    return (out instanceof Promise ? out.then(patchFields) : out) as never;
  }
}

const pools: pg.Pool[] = [];
function poolFor(url: string, database?: string): pg.Pool {
  const u = new URL(url);
  const pool = new pg.Pool({
    Client: CharAsTextClient,
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    database: database ?? decodeURIComponent(u.pathname.slice(1)),
    max: 2,
  });
  pools.push(pool);
  return pool;
}

function adapterFactory(url: string): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPg(poolFor(url));
  return {
    provider: "postgres",
    adapterName: main.adapterName,
    connect: () => main.connect(),
    async connectToShadowDb(): Promise<SqlDriverAdapter> {
      const u = new URL(url);
      u.pathname = `/${decodeURIComponent(u.pathname.slice(1))}_shadow_${uniqueId("s").toLowerCase()}`;
      const shadowUrl = u.toString();
      await ensureDatabase(shadowUrl);
      const pool = poolFor(shadowUrl);
      const adapter = await new PrismaPg(pool).connect();
      return Object.assign(Object.create(adapter) as SqlDriverAdapter, {
        dispose: async () => {
          await pool.end().catch(() => {});
          await dropDatabase(shadowUrl);
        },
      });
    },
  };
}

const engines: Engine[] = [];
async function engineFor(url: string): Promise<Engine> {
  const adapter = bindMigrationAwareSqlAdapterFactory(adapterFactory(url));
  const engine = await engineModule.SchemaEngine.new(
    { datamodels: [["schema.prisma", schemaFiles()[0]!.content]] },
    () => {},
    adapter,
  );
  engines.push(engine);
  return engine;
}

/** Ends the engine's connections: Prisma holds the advisory lock for as long as its session lives. */
async function closeEngines(): Promise<void> {
  for (const p of pools.splice(0)) await p.end().catch(() => {});
}

// --- Tests ----------------------------------------------------------------------------------------

const scratch: string[] = [];
async function freshDb(): Promise<string> {
  const u = new URL(testDatabaseUrl());
  u.pathname = `/${decodeURIComponent(u.pathname.slice(1))}_${uniqueId("pe").toLowerCase()}`;
  scratch.push(u.toString());
  await ensureDatabase(u.toString());
  return u.toString();
}

async function rows(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query("SELECT * FROM _prisma_migrations ORDER BY started_at")).rows as {
      id: string;
      checksum: string;
      migration_name: string;
      finished_at: Date | null;
      rolled_back_at: Date | null;
      applied_steps_count: number;
      logs: string | null;
    }[];
  } finally {
    await c.end();
  }
}

const local = await readMigrations();

beforeAll(async () => {
  engineModule = await loadEngine();
});

afterAll(async () => {
  await closeEngines();
  for (const url of scratch) await dropDatabase(url).catch(() => {});
});

describe("Prisma's schema engine agrees with the offline migrator", () => {
  it("prisma migrate deploy first, then ours: same checksums, nothing left to apply", async () => {
    const url = await freshDb();
    const engine = await engineFor(url);
    const out = await engine.applyMigrations({ migrationsList: migrationsList(), filters: noFilter });
    expect(out.appliedMigrationNames).toEqual(local.map((m) => m.name));
    await closeEngines();

    const recorded = await rows(url);
    expect(recorded.map((r) => [r.migration_name, r.checksum, r.applied_steps_count, r.logs])).toEqual(
      local.map((m) => [m.name, m.checksum, 1, null]),
    );
    const res = await migrate(url);
    expect(res.applied).toEqual([]);
    expect(res.alreadyApplied).toEqual(local.map((m) => m.name));
  });

  it("ours first, then prisma migrate deploy: Prisma finds nothing to apply, nothing edited, nothing failed", async () => {
    const url = await freshDb();
    await migrate(url);
    const engine = await engineFor(url);
    expect(
      (await engine.applyMigrations({ migrationsList: migrationsList(), filters: noFilter })).appliedMigrationNames,
    ).toEqual([]);
    const diagnosis = await engine.diagnoseMigrationHistory({
      migrationsList: migrationsList(),
      optInToShadowDatabase: false,
      filters: noFilter,
    });
    expect(diagnosis).toMatchObject({
      editedMigrationNames: [],
      failedMigrationNames: [],
      hasMigrationsTable: true,
      history: null,
    });
    await closeEngines();
  });

  it("prisma migrate diff from the database migrated by us to schema.prisma is empty", async () => {
    const url = await freshDb();
    await migrate(url);
    const engine = await engineFor(url);
    const diff = await engine.diff({
      from: { tag: "schemaDatasource", files: schemaFiles(), configDir: dirname(SCHEMA_PATH) },
      to: { tag: "schemaDatamodel", files: schemaFiles() },
      script: true,
      exitCode: true,
      filters: noFilter,
    });
    expect(diff.stdout?.trim()).toBe("-- This is an empty migration.");
    expect(diff.exitCode).toBe(0);
    await closeEngines();
  });

  it("prisma migrate diff from the migrations folder (shadow database) to schema.prisma is empty", async () => {
    const url = await freshDb();
    const engine = await engineFor(url);
    const diff = await engine.diff({
      from: { tag: "migrations", ...migrationsList() },
      to: { tag: "schemaDatamodel", files: schemaFiles() },
      script: true,
      exitCode: true,
      filters: noFilter,
    });
    expect(diff.stdout?.trim()).toBe("-- This is an empty migration.");
    expect(diff.exitCode).toBe(0);
    await closeEngines();
  });

  it("the init migration is what Prisma renders for schema.prisma from an empty database", async () => {
    const url = await freshDb();
    const engine = await engineFor(url);
    const diff = await engine.diff({
      from: { tag: "empty" },
      to: { tag: "schemaDatamodel", files: schemaFiles() },
      script: true,
      exitCode: null,
      filters: noFilter,
    });
    // `migrate diff --from-empty` also creates the schema itself; `migrate dev` (a diff from a
    // shadow database that already has "public") does not, and neither does our file.
    const rendered = (diff.stdout ?? "").replace(/^-- CreateSchema\nCREATE SCHEMA IF NOT EXISTS "public";\n\n/, "");
    if (local.length === 1) expect(local[0]!.script).toBe(rendered);
    await closeEngines();
  });

  it("a migration that failed under our migrator blocks prisma migrate deploy too (P3009)", async () => {
    const url = await freshDb();
    await migrate(url);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query(
      `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs, started_at) VALUES (gen_random_uuid()::text, $1, '20990101000000_broken', 'boom', now())`,
      ["0".repeat(64)],
    );
    await c.end();
    const engine = await engineFor(url);
    const err = await engine
      .applyMigrations({ migrationsList: migrationsList(), filters: noFilter })
      .catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/20990101000000_broken/);
    await closeEngines();
    const ours = await migrate(url).catch((e: unknown) => e);
    expect(ours).toBeInstanceOf(MigrationError);
    expect((ours as MigrationError).code).toBe("failed_migration");
  });
});
